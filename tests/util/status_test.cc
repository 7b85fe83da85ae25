#include "valise/status.h"

#include <cerrno>

#include "support/test_util.h"

namespace valise {
namespace {

// Goal: an OK status is cheap and says so; errors keep code and message.
TEST(Status, OkAndMessages) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.ToString(), "OK");
  Status nf = Status::NotFound("/x", "open");
  EXPECT_TRUE(nf.IsNotFound());
  EXPECT_EQ(nf.message(), "/x: open");
  Status copy = nf;
  EXPECT_TRUE(copy.IsNotFound());
  EXPECT_EQ(nf.WithContext("drive 2").message(), "drive 2: /x: open");
}

// Goal: errno maps to codes and the retryable/data_loss bits.
TEST(Status, PosixErrorMapping) {
  EXPECT_TRUE(Status::PosixError("p", ENOENT).IsNotFound());
  EXPECT_TRUE(Status::PosixError("p", ENOSPC).IsNoSpace());
  EXPECT_TRUE(Status::PosixError("p", EDQUOT).IsNoSpace());
  Status eio = Status::PosixError("/dev/sdb: read at 4096", EIO);
  EXPECT_TRUE(eio.IsIOError());
  EXPECT_TRUE(eio.data_loss());
  EXPECT_FALSE(eio.retryable());
  EXPECT_EQ(eio.err(), EIO);
  EXPECT_EQ(eio.message(), "/dev/sdb: read at 4096: Input/output error");
  EXPECT_TRUE(Status::PosixError("p", EINTR).retryable());
  EXPECT_TRUE(eio.WithInjected(true).injected());
  EXPECT_FALSE(eio.injected());
}

// Goal: an HTTP service's answer rides along with the error, survives
// WithContext, and an OK status stays OK.
TEST(Status, HttpServiceFields) {
  Status s = Status::IOError("s3: PUT s3://b/k", "HTTP 503 SlowDown")
                 .WithRetryable(true)
                 .WithHttp(503, "SlowDown", "tx0001");
  EXPECT_EQ(s.http_status(), 503);
  EXPECT_EQ(s.service_code(), "SlowDown");
  EXPECT_EQ(s.request_id(), "tx0001");
  EXPECT_TRUE(s.retryable());
  Status c = s.WithContext("ingest");
  EXPECT_EQ(c.http_status(), 503);
  EXPECT_EQ(c.request_id(), "tx0001");
  EXPECT_TRUE(Status::OK().WithHttp(200, "", "x").ok());
  EXPECT_EQ(Status::OK().http_status(), 0);
  EXPECT_EQ(Status::NotFound("x").service_code(), "");
}

TEST(Result, ValueOrStatus) {
  Result<int> r(42);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
  Result<int> e(Status::Corruption("bad"));
  EXPECT_FALSE(e.ok());
  EXPECT_TRUE(e.status().IsCorruption());
}

}  // namespace
}  // namespace valise
