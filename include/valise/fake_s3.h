// The fake S3 store: an in-memory S3 server for tests, and S3Clients that
// talk to it. A client of the fake is the real client code (request
// building, SigV4, retries, XML parsing) over an in-memory transport in
// place of libcurl, so what the tests exercise is what talks to RGW.
//
// The store checks what RGW checks:
//   - the SigV4 signature (wrong keys: 403 InvalidAccessKeyId or
//     SignatureDoesNotMatch);
//   - x-amz-content-sha256 against the body received (400
//     XAmzContentSHA256Mismatch) and Content-MD5 (400 BadDigest; a
//     malformed one InvalidDigest). Stricter than RGW on purpose: a
//     PutObject or UploadPart with neither a signed payload SHA-256 nor
//     a Content-MD5 is refused (400 InvalidRequest), since valise always
//     sends a digest the store checks;
//   - at completion: parts in ascending order (InvalidPartOrder), each
//     uploaded with the ETag given (InvalidPart), every part but the last
//     at least min_part_size (EntityTooSmall); the object's ETag is the
//     MD5 of the parts' MD5s and "-N", as on S3 and RGW;
//   - If-None-Match: * on PUT (412 when the key exists), If-Match on GET,
//     x-amz-copy-source-if-match on copies (412 unless the source's ETag),
//     Range (206, 416 at or past the end).
//
// Faults, drawn from ONE seeded generator, in one order per request (so
// the same sequence of calls under the same seed meets the same faults,
// bit for bit; fault_log() lists them to compare replays):
//   1. reset_one_in:       the connection is reset mid-body: a request
//                          with a body is not applied; a GET's answer is
//                          cut after half its bytes reached the buffer;
//   2. error_500_one_in:   500 InternalError, not applied;
//   3. slowdown_one_in:    503 SlowDown, not applied;
//   4. (the request is applied, with the checks above)
//   5. error_in_200_one_in: Complete, CopyObject and UploadPartCopy answer
//                          200 with <Error><Code>InternalError</Code>;
//                          drawn before applying, and then not applied;
//   6. lost_answer_one_in: a request that changed the store is applied,
//                          then the connection drops before the answer
//                          (the client sees a reset).
// A rate of 0 draws nothing. Every injected transport failure and answer
// is counted in counters(); a transport failure's Status is injected().
//
// Crash model (a client killed with kill -9; the store is the server and
// survives): KillClients() makes every client made so far fail every later
// request (Aborted, injected) as a dead process would send nothing more;
// what the store had applied stays: completed objects are durable, open
// multipart uploads and their parts survive until completed or aborted. A
// client made afterwards sees exactly that state (the rerun).
// SetUnavailable(true) models the server down (RGW restarting): requests
// fail as "connection refused" (retryable, not applied) until false.
//
// Thread safety: every method may be called from any thread; requests are
// applied one at a time under one lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "valise/s3.h"
#include "valise/status.h"

namespace valise {

struct FakeS3Faults {
  uint32_t reset_one_in = 0;
  uint32_t error_500_one_in = 0;
  uint32_t slowdown_one_in = 0;
  uint32_t error_in_200_one_in = 0;
  uint32_t lost_answer_one_in = 0;
  // Not drawn (no effect on the seeded sequence): every UploadPartCopy
  // finds its source gone (404 NoSuchKey), or fails with 500
  // InternalError (not applied), as long as this is set.
  bool part_copy_source_gone = false;
  bool part_copy_fails = false;
};

struct FakeS3Options {
  uint64_t seed = 1;
  FakeS3Faults faults;
  // Parts but the last must be at least this long. Default: 5 MiB, as S3
  // and RGW (rgw_multipart_min_part_size).
  uint64_t min_part_size = uint64_t{5} << 20;
  // The one user the store knows.
  std::string access_key_id = "FAKEACCESSKEYID";
  std::string secret_access_key = "fake/secret/access/key";
  // Clients address the store here, path-style.
  std::string endpoint = "http://fake-s3.invalid:8000";
};

// What the store saw.
struct FakeS3Counters {
  uint64_t requests = 0;  // every request that reached the store
  uint64_t resets = 0;
  uint64_t errors_500 = 0;
  uint64_t slowdowns = 0;
  uint64_t errors_in_200 = 0;
  uint64_t lost_answers = 0;
  uint64_t refused = 0;  // while unavailable, or from a killed client
  // Bodies that passed the store's digest checks: single PUTs and parts,
  // and of those, how many carried a Content-MD5 beside the signed
  // SHA-256.
  uint64_t puts = 0;
  uint64_t puts_with_md5 = 0;
  uint64_t parts = 0;
  uint64_t parts_with_md5 = 0;
  // Bodies refused because their signed x-amz-content-sha256 was not
  // their SHA-256 (400 XAmzContentSHA256Mismatch).
  uint64_t sha256_refused = 0;
  // UploadPartCopy requests applied, and the bytes they copied.
  uint64_t part_copies = 0;
  uint64_t part_copy_bytes = 0;
};

// A part the store accepted (UploadPart with a body): its key, number and
// the signed x-amz-content-sha256 it carried (hex).
struct FakeS3PartSeen {
  std::string key;
  int number = 0;
  std::string sha256;
};

class FakeS3Store {
 public:
  explicit FakeS3Store(const FakeS3Options& options);
  ~FakeS3Store();
  FakeS3Store(const FakeS3Store&) = delete;
  FakeS3Store& operator=(const FakeS3Store&) = delete;

  void CreateBucket(const std::string& bucket);

  // A client with the store's credentials, its retries not sleeping (the
  // backoff is computed and counted, not waited), `max_attempts` per
  // request. REQUIRES: the store outlives the client.
  std::unique_ptr<S3Client> NewClient(int max_attempts = 10);
  // A client with other credentials (to test refusals).
  std::unique_ptr<S3Client> NewClient(const S3Credentials& credentials,
                                      int max_attempts = 10);

  void SetFaults(const FakeS3Faults& faults);
  void KillClients();
  void SetUnavailable(bool unavailable);

  // Inspection, without faults. False when there is no such object.
  bool ObjectBytes(const std::string& bucket, const std::string& key,
                   std::string* bytes, S3Metadata* metadata = nullptr) const;
  // Every key of the bucket, sorted.
  std::vector<std::string> Keys(const std::string& bucket) const;
  // Open multipart uploads of the bucket, as (key, upload id).
  std::vector<std::pair<std::string, std::string>> Uploads(
      const std::string& bucket) const;
  FakeS3Counters counters() const;
  // Every part accepted with a body, in order.
  std::vector<FakeS3PartSeen> parts_seen() const;
  // One line per injected fault, in order: "17 PUT /b/k?partNumber=2...:
  // reset" (the request's number, its target, the fault).
  std::vector<std::string> fault_log() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace valise
