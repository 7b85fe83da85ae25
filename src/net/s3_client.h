// The S3 client over any HttpTransport: the real one (NewS3Client, in
// s3_client.cc, over libcurl) and the fake store's (fake_s3.cc) share all
// of this code, so the tests of the fake run the request building,
// signing, retries and XML parsing that talk to RGW.
#pragma once

#include <ctime>
#include <functional>
#include <memory>

#include "net/http.h"
#include "valise/s3.h"

namespace valise::net {

// What tests replace.
struct S3ClientHooks {
  // Waits between attempts. Default: sleeps.
  std::function<void(uint64_t ms)> sleep;
  // The signing time. Default: time(nullptr).
  std::function<std::time_t()> now;
  // Seeds the jitter of the backoff. 0: from std::random_device.
  uint64_t jitter_seed = 0;
};

// InvalidArgument for a malformed endpoint or missing credentials.
Status NewS3ClientOver(const S3Config& config,
                       std::shared_ptr<HttpTransport> transport,
                       const S3ClientHooks& hooks,
                       std::unique_ptr<S3Client>* client);

}  // namespace valise::net
