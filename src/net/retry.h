// When the S3 client sends a request again, and how long it waits first.
//
// The policy of the HTTP clients that survive production (the AWS CLI's
// standard retry mode, rclone's S3 backend):
//   - what is worth retrying: a 5xx, a throttling answer (503 SlowDown,
//     429, the Throttling codes), S3's RequestTimeout (the store gave up
//     waiting for our bytes), an InternalError inside a 200 answer, and a
//     transport failure (connection refused or reset, timeout);
//   - a request that is not idempotent (CreateMultipartUpload: a second
//     one starts a second upload) is retried only when it cannot have
//     been applied: the connection was never made, or the store refused it
//     up front (503/429 throttling). This is decided from the operation
//     before the first attempt, never guessed from the failure alone;
//   - the wait before attempt n+1 is "full jitter": uniform in
//     [0, min(cap, base * 2^(n-1))], so many clients throttled at once do
//     not come back in step (AWS Architecture Blog, "Exponential Backoff
//     And Jitter").
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace valise::net {

// An answer the store gives when it is overloaded and did nothing.
bool IsThrottle(int http_status, std::string_view code);
// An answer (status and S3 error code, "" when none) worth trying again.
bool IsRetryableAnswer(int http_status, std::string_view code);

// Whether to send again after a failed attempt.
//   transport_failed:  no complete response (then http_status is 0)
//   transport_retryable, maybe_applied: from HttpTransport::Send
struct AttemptFailure {
  bool transport_failed = false;
  bool transport_retryable = false;
  bool maybe_applied = true;
  int http_status = 0;
  std::string code;  // owned: the answer it came from is gone by then
};
bool ShouldRetry(const AttemptFailure& failure, bool idempotent);

// Milliseconds to wait after failed attempt `attempt` (1-based), given a
// uniform random 64-bit value.
uint64_t BackoffMs(int attempt, uint32_t base_ms, uint32_t cap_ms,
                   uint64_t random);

}  // namespace valise::net
