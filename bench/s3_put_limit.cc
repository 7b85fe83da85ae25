// valise_s3_put_limit: the store's own write limit, the ceiling any S3
// client can reach on this machine. Many PUTs of the same bytes at once,
// with no hashing per request (the payload's MD5 and SHA-256 are computed
// once, before the clock starts), through valise's S3 client (libcurl, a
// connection per job, SigV4 of the headers only). scripts/bench-peers s3
// compares every client's throughput to it.
//
//   valise_s3_put_limit [--size BYTES] [--jobs N] [--count N]
//                       [--mode put|part] [--uploads N] [--keep]
//                       s3://BUCKET/PREFIX
//
//   --size   bytes per request (default 16 MiB)
//   --jobs   requests in flight (default 16)
//   --count  requests in all (default 64)
//   --mode   put: one object per request under PREFIX/put-limit/;
//            part: UploadPart into one multipart upload per job (aborted
//            at the end) (default put)
//   --uploads  part mode: the jobs share this many uploads, job j sending
//            into upload j % N, parts numbered in order across them
//            (default: one per job); ingest sends a file's parts into
//            one upload
//   --keep   leave the objects (default: deleted at the end)
//
// Configuration as for valise (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
// Prints one JSON line: {"mode":..,"size":..,"jobs":..,"requests":..,
// "bytes":..,"seconds":..,"mib_per_s":..,"retries":..}. Exit 0, or 2 with
// a message on stderr.
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "valise/s3.h"

namespace {

using valise::Digest;
using valise::DigestType;
using valise::S3Client;
using valise::Status;

Digest DigestOf(const std::string& s, DigestType type) {
  Digest d;
  d.type = type;
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), d.bytes.data(), &len,
             type == DigestType::kMd5 ? EVP_md5() : EVP_sha256(), nullptr);
  d.size = static_cast<uint8_t>(len);
  return d;
}

int Usage() {
  fprintf(stderr,
          "usage: valise_s3_put_limit [--size BYTES] [--jobs N] [--count N] "
          "[--mode put|part] [--uploads N] [--keep] s3://BUCKET/PREFIX\n");
  return 2;
}

int Fail(const Status& s) {
  fprintf(stderr, "valise_s3_put_limit: error: %s\n", s.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t size = 16 << 20;
  int jobs = 16;
  int count = 64;
  int num_uploads = 0;  // 0: one per job
  std::string mode = "put";
  bool keep = false;
  std::string url;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--size") {
      size = strtoull(next(), nullptr, 10);
    } else if (a == "--jobs") {
      jobs = atoi(next());
    } else if (a == "--count") {
      count = atoi(next());
    } else if (a == "--mode") {
      mode = next();
    } else if (a == "--uploads") {
      num_uploads = atoi(next());
    } else if (a == "--keep") {
      keep = true;
    } else if (valise::IsS3Url(a) && url.empty()) {
      url = a;
    } else {
      return Usage();
    }
  }
  if (num_uploads <= 0 || num_uploads > jobs) num_uploads = jobs;
  if (url.empty() || size == 0 || jobs < 1 || count < 1 ||
      (mode != "put" && mode != "part") ||
      (mode == "part" && size < (5u << 20))) {
    return Usage();
  }
  valise::S3Url where;
  Status s = valise::ParseS3Url(url, &where);
  if (!s.ok()) return Fail(s);
  valise::S3Config config;
  s = valise::ResolveS3Config(valise::S3Flags(),
                              valise::S3Environment::FromProcess(), &config);
  if (!s.ok()) return Fail(s);
  std::unique_ptr<S3Client> client;
  s = valise::NewS3Client(config, &client);
  if (!s.ok()) return Fail(s);
  s = client->HeadBucket(where.bucket);
  if (!s.ok()) return Fail(s);

  // The bytes, and their digests, once.
  std::string data(size, '\0');
  std::mt19937_64 rng(1);
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    uint64_t v = rng();
    memcpy(&data[i], &v, 8);
  }
  valise::S3Payload payload;
  payload.pieces = {{data.data(), data.size()}};
  payload.md5 = DigestOf(data, DigestType::kMd5);
  payload.sha256 = DigestOf(data, DigestType::kSha256);

  const std::string base = where.Key("put-limit");
  std::vector<std::string> uploads(static_cast<size_t>(jobs));
  std::atomic<int> next_part[1024];
  for (auto& p : next_part) p = 0;
  if (num_uploads > 1024) num_uploads = 1024;
  if (mode == "part") {
    for (int j = 0; j < num_uploads; ++j) {
      s = client->CreateMultipartUpload(where.bucket,
                                        base + "/job" + std::to_string(j), {},
                                        &uploads[static_cast<size_t>(j)]);
      if (!s.ok()) return Fail(s);
    }
  }

  std::atomic<int> next_request{0};
  std::atomic<bool> failed{false};
  Status first_error;
  std::mutex error_mu;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j) {
    threads.emplace_back([&, j] {
      for (int n; (n = next_request++) < count && !failed;) {
        valise::S3WriteResult r;
        Status st;
        if (mode == "put") {
          st = client->PutObject(where.bucket, base + "/" + std::to_string(n),
                                 payload, {}, false, &r);
        } else {
          st = client->UploadPart(
              where.bucket, base + "/job" + std::to_string(j % num_uploads),
              uploads[static_cast<size_t>(j % num_uploads)],
              ++next_part[j % num_uploads], payload, &r);
        }
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (!failed.exchange(true)) first_error = st;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  // Clean up (not timed).
  for (int j = 0; mode == "part" && j < num_uploads; ++j) {
    client
        ->AbortMultipartUpload(where.bucket, base + "/job" + std::to_string(j),
                               uploads[static_cast<size_t>(j)])
        .PermitUncheckedError();
  }
  for (int n = 0; mode == "put" && !keep && n < count; ++n) {
    client->DeleteObject(where.bucket, base + "/" + std::to_string(n))
        .PermitUncheckedError();
  }
  if (failed) return Fail(first_error);

  valise::S3Stats st = client->stats();
  double bytes = static_cast<double>(size) * count;
  printf(
      "{\"mode\":\"%s\",\"size\":%llu,\"jobs\":%d,\"requests\":%d,"
      "\"bytes\":%.0f,\"seconds\":%.3f,\"mib_per_s\":%.1f,\"retries\":%llu}\n",
      mode.c_str(), static_cast<unsigned long long>(size), jobs, count, bytes,
      seconds, bytes / seconds / (1 << 20),
      static_cast<unsigned long long>(st.retries));
  return 0;
}
