#include "net/retry.h"

#include <algorithm>

namespace valise::net {

bool IsThrottle(int http_status, std::string_view code) {
  if (http_status == 429) return true;
  if (http_status == 503 &&
      (code.empty() || code == "SlowDown" || code == "ServiceUnavailable")) {
    return true;
  }
  return code == "SlowDown" || code == "Throttling" ||
         code == "ThrottlingException" || code == "RequestLimitExceeded" ||
         code == "RequestThrottled" || code == "TooManyRequestsException";
}

bool IsRetryableAnswer(int http_status, std::string_view code) {
  if (IsThrottle(http_status, code)) return true;
  if (http_status >= 500 && http_status <= 599) return true;
  return code == "RequestTimeout" || code == "InternalError" ||
         code == "RequestTimeoutException" || code == "PriorRequestNotComplete";
}

bool ShouldRetry(const AttemptFailure& f, bool idempotent) {
  if (f.transport_failed) {
    if (!f.transport_retryable) return false;
    return idempotent || !f.maybe_applied;
  }
  if (!IsRetryableAnswer(f.http_status, f.code)) return false;
  return idempotent || IsThrottle(f.http_status, f.code);
}

uint64_t BackoffMs(int attempt, uint32_t base_ms, uint32_t cap_ms,
                   uint64_t random) {
  if (attempt < 1) attempt = 1;
  uint64_t ceiling = cap_ms;
  if (attempt - 1 < 32) {
    ceiling = std::min<uint64_t>(cap_ms, uint64_t{base_ms} << (attempt - 1));
  }
  return random % (ceiling + 1);
}

}  // namespace valise::net
