// The retry policy: what is retried, when a non-idempotent request may be,
// and the full-jitter backoff.
#include "net/retry.h"

#include "support/test_util.h"

namespace valise::net {
namespace {

// Goal: 5xx, throttling, RequestTimeout and InternalError are worth a
// retry; client errors are not.
TEST(Retry, RetryableAnswers) {
  EXPECT_TRUE(IsRetryableAnswer(500, "InternalError"));
  EXPECT_TRUE(IsRetryableAnswer(502, ""));
  EXPECT_TRUE(IsRetryableAnswer(503, "SlowDown"));
  EXPECT_TRUE(IsRetryableAnswer(429, ""));
  EXPECT_TRUE(IsRetryableAnswer(400, "RequestTimeout"));
  EXPECT_TRUE(IsRetryableAnswer(200, "InternalError"));  // error in a 200
  EXPECT_FALSE(IsRetryableAnswer(400, "BadDigest"));
  EXPECT_FALSE(IsRetryableAnswer(403, "SignatureDoesNotMatch"));
  EXPECT_FALSE(IsRetryableAnswer(404, "NoSuchKey"));
  EXPECT_FALSE(IsRetryableAnswer(412, "PreconditionFailed"));
  EXPECT_TRUE(IsThrottle(503, "SlowDown"));
  EXPECT_TRUE(IsThrottle(503, ""));
  EXPECT_FALSE(IsThrottle(500, "InternalError"));
}

// Goal: an idempotent request is retried on any retryable failure; a
// non-idempotent one only when it cannot have been applied (no connection,
// or a throttling refusal), never after a 500 or a reset.
TEST(Retry, IdempotenceDecides) {
  AttemptFailure refused{true, true, false, 0, ""};
  AttemptFailure reset{true, true, true, 0, ""};
  AttemptFailure tls{true, false, false, 0, ""};
  AttemptFailure e500{false, false, true, 500, "InternalError"};
  AttemptFailure slow{false, false, false, 503, "SlowDown"};
  AttemptFailure bad{false, false, true, 400, "BadDigest"};
  for (const auto& f : {refused, reset, e500, slow}) {
    EXPECT_TRUE(ShouldRetry(f, true));
  }
  EXPECT_FALSE(ShouldRetry(tls, true));
  EXPECT_FALSE(ShouldRetry(bad, true));
  EXPECT_TRUE(ShouldRetry(refused, false));
  EXPECT_TRUE(ShouldRetry(slow, false));
  EXPECT_FALSE(ShouldRetry(reset, false));
  EXPECT_FALSE(ShouldRetry(e500, false));
}

// Goal: the wait after attempt n is within [0, min(cap, base * 2^(n-1))]
// and reaches both ends; huge attempt numbers stay at the cap.
TEST(Retry, FullJitterBackoff) {
  EXPECT_EQ(BackoffMs(1, 50, 10000, 0), 0u);
  EXPECT_EQ(BackoffMs(1, 50, 10000, 50), 50u);
  EXPECT_EQ(BackoffMs(1, 50, 10000, 51), 0u);
  EXPECT_EQ(BackoffMs(3, 50, 10000, 200), 200u);
  EXPECT_EQ(BackoffMs(20, 50, 10000, 10000), 10000u);
  EXPECT_EQ(BackoffMs(100, 50, 10000, ~uint64_t{0}), ~uint64_t{0} % 10001);
  for (uint64_t r = 0; r < 1000; r += 7) {
    EXPECT_LE(BackoffMs(4, 50, 10000, r * 7919), 400u);
  }
}

}  // namespace
}  // namespace valise::net
