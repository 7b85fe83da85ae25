// S3: the object-store client valise stages into and reads back from, its
// configuration (found where the AWS CLI and rclone find it), and
// s3://BUCKET/PREFIX URLs.
//
//   S3Client         the calls the S3 destination needs, one method per S3
//                    operation, results and errors as values. Two
//                    implementations: the real one (NewS3Client: libcurl,
//                    our own SigV4 over OpenSSL, expat for the XML) and
//                    the fake store of the tests (valise/fake_s3.h), which
//                    runs the same client code over an in-memory server
//                    that breaks on purpose.
//   S3Config         endpoint, region, credentials, addressing, TLS and
//                    retry settings; ResolveS3Config reads them from the
//                    environment and the shared AWS files, flags first.
//   S3Url            s3://BUCKET/PREFIX.
//
// Contracts common to every S3Client method:
//   - Buckets and keys are plain (decoded) strings; the client encodes them.
//   - On failure the result is unspecified and the Status says what
//     happened: its message names the operation and the object
//     ("s3: PUT s3://bucket/key: HTTP 400 BadDigest: The Content-MD5 you
//     specified did not match what we received. (request id tx00...)"),
//     http_status(), service_code() and request_id() carry the store's
//     answer. A missing bucket, key or upload is NotFound; a body the store
//     found corrupt (BadDigest, InvalidDigest, XAmzContentSHA256Mismatch)
//     is Corruption; a refusal (403: wrong credentials, denied) or any
//     other 4xx is InvalidArgument; 5xx, throttling and connection errors
//     are IOError (TimedOut for timeouts) with retryable() set, returned
//     only once the retries are used up.
//   - No message ever holds a secret (the secret key, the session token,
//     a signature).
//   - Retries: a request that failed with a 5xx, 503 SlowDown, a timeout
//     or a connection error is sent again after a capped exponential
//     backoff with full jitter, if it is idempotent. Whether it is is
//     decided per operation before the first attempt (see each method);
//     a request that is not is sent again only when it cannot have been
//     applied (the connection was never made, or a 503 refusal).
//   - Payloads are sent from the caller's memory without a copy; their
//     MD5 (Content-MD5) and SHA-256 (the signed x-amz-content-sha256) are
//     the caller's, computed from the verified bytes, and the store checks
//     both against what it receives.
//
// Thread safety: an S3Client may be used from many threads at once (the
// real one keeps one connection per concurrent caller and reuses it).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "valise/digest.h"
#include "valise/status.h"

namespace valise {

// ---------------------------------------------------------------- URLs --

// s3://BUCKET/PREFIX. The prefix neither starts nor ends with '/' (it may
// be empty); keys under it are PREFIX/relative-path.
struct S3Url {
  std::string bucket;
  std::string prefix;

  // PREFIX/rel, or rel when the prefix is empty.
  std::string Key(std::string_view rel) const;
  // "s3://bucket/prefix".
  std::string ToString() const;
};
// True for anything starting with "s3://" (a DEST or SRC to parse as one).
bool IsS3Url(std::string_view s);
// InvalidArgument for a missing or malformed bucket name (bucket names:
// 1-255 of A-Z a-z 0-9 . - _, as RGW accepts them), an empty segment
// ("s3://b//x") or a "." or ".." segment in the prefix.
Status ParseS3Url(std::string_view s, S3Url* out);
// An S3 time as listings give it ("2026-12-06T02:45:19.637Z") in
// nanoseconds since the epoch; 0 if malformed.
int64_t ParseS3Time(const std::string& s);

// -------------------------------------------------------- configuration --

enum class S3Addressing : uint8_t {
  kAuto,     // virtual-host for AWS endpoints when the bucket name allows
             // it, path-style otherwise (custom endpoints: RGW, MinIO)
  kPath,     // http://endpoint/bucket/key
  kVirtual,  // http://bucket.endpoint/key
};

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only, else empty
  // Where they came from, for messages: "environment" or
  // "/root/.aws/credentials [profile default]". Never a secret.
  std::string source;
};

struct S3Config {
  // scheme://host[:port], no path. Default: https://s3.REGION.amazonaws.com.
  std::string endpoint;
  // The signing region. Default: us-east-1.
  std::string region = "us-east-1";
  S3Credentials credentials;
  S3Addressing addressing = S3Addressing::kAuto;
  // A PEM file of CA certificates to trust instead of the system's (a
  // private CA). Default: empty, the system's bundle. Certificates and
  // host names are always checked.
  std::string ca_bundle;
  // Where the endpoint and region came from, for messages.
  std::string endpoint_source = "default";
  std::string region_source = "default";

  // Connecting (TCP and TLS) gives up after this long. Default: 10 s.
  long connect_timeout_ms = 10000;
  // A request moving less than 1 byte/s (sending or waiting for the
  // answer) for this long is abandoned and retried. Default: 120 s (RGW
  // answers a Complete of many parts only when done).
  long stall_timeout_s = 120;
  // Attempts per request, the first included (AWS_MAX_ATTEMPTS, the
  // profile's max_attempts). Default: 10.
  int max_attempts = 10;
  // Backoff before attempt n+1 (n >= 1): uniform in [0, min(cap, base *
  // 2^(n-1))]. Defaults: 50 ms, 10 s (the nine waits of 10 attempts add
  // up to ~11 s on average, 23 s at most: enough for an RGW restart).
  uint32_t backoff_base_ms = 50;
  uint32_t backoff_cap_ms = 10000;
};

// What the command line says (empty: not given).
struct S3Flags {
  std::string endpoint;   // --endpoint URL
  std::string ca_bundle;  // --ca-bundle FILE
  std::string profile;    // a profile named on the command line
  std::string region;     // a region named on the command line
};

// The process environment the configuration is read from; tests give
// their own.
struct S3Environment {
  std::map<std::string, std::string> vars;  // name -> value
  std::string home;                         // for ~/.aws/
  // AWS_* variables and $HOME of this process.
  static S3Environment FromProcess();
  std::string Get(const std::string& name) const;
};

// Resolves the configuration the way the AWS CLI does, first found wins:
//   endpoint:    flags.endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
//                the profile's "s3 =" sub-section endpoint_url, the
//                profile's endpoint_url, https://s3.REGION.amazonaws.com
//                (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips the
//                variables and the files);
//   region:      flags.region, AWS_REGION, AWS_DEFAULT_REGION, the
//                profile's region, us-east-1;
//   profile:     flags.profile, AWS_PROFILE, AWS_DEFAULT_PROFILE, default;
//   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+
//                AWS_SESSION_TOKEN) unless a profile was named in flags,
//                then the profile's section of the credentials file
//                (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials), then
//                of the config file (AWS_CONFIG_FILE, ~/.aws/config,
//                "[profile NAME]" or "[default]");
//   addressing:  the profile's "s3 =" sub-section addressing_style
//                (auto, path, virtual);
//   CA bundle:   flags.ca_bundle, AWS_CA_BUNDLE, the profile's ca_bundle;
//   attempts:    AWS_MAX_ATTEMPTS, the profile's max_attempts (1-100).
// InvalidArgument when no credentials are found (the message says where
// it looked), when a named profile exists in neither file, or when a
// value is malformed; NotSupported for a profile that only has a way of
// getting credentials this client lacks (role_arn, credential_process,
// sso_*). The message names the file and profile, never a value.
Status ResolveS3Config(const S3Flags& flags, const S3Environment& env,
                       S3Config* out);

// ------------------------------------------------------------- client --

// x-amz-meta-* headers: names lower-case without the prefix (letters,
// digits, '-', '_'), values printable ASCII.
using S3Metadata = std::map<std::string, std::string>;

// A contiguous piece of caller memory.
struct S3Buffer {
  const void* data = nullptr;
  size_t size = 0;
};

// A request body: the bytes, in order, and their digests.
// REQUIRES: the memory must remain live and unchanged until the call that
// sends it returns (retries send it again).
struct S3Payload {
  std::vector<S3Buffer> pieces;
  // DigestType::kSha256 of the bytes: the signed x-amz-content-sha256,
  // which the store checks (XAmzContentSHA256Mismatch). Required.
  Digest sha256;
  // DigestType::kMd5 of the bytes, sent as Content-MD5 (BadDigest) when
  // set. Optional: a second check of the same bytes, at the cost of an MD5
  // pass over them; PutObject uses it to recognise its own object after a
  // lost answer (a single PUT's ETag is its MD5).
  Digest md5;
  uint64_t size() const;
};

struct S3ObjectInfo {
  uint64_t size = 0;
  std::string etag;  // without the quotes
  std::string last_modified;
  S3Metadata metadata;
  std::string request_id;
};

struct S3GetResult {
  uint64_t bytes = 0;        // written into the buffer
  uint64_t object_size = 0;  // the whole object's (from Content-Range)
  std::string etag;
  std::string request_id;
};

// The answer to a write: the new object's or part's ETag.
struct S3WriteResult {
  std::string etag;  // without the quotes
  std::string request_id;
};

struct S3CompletedPart {
  int part_number = 0;
  std::string etag;  // as UploadPart returned it
};

struct S3ObjectSummary {
  std::string key;
  uint64_t size = 0;
  std::string etag;
  std::string last_modified;
};

struct S3ListObjectsRequest {
  std::string prefix;
  std::string delimiter;           // "" for a flat listing
  std::string continuation_token;  // from the previous page
  std::string start_after;
  int max_keys = 1000;
};

struct S3ListObjectsResult {
  std::vector<S3ObjectSummary> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation_token;
  std::string request_id;
};

struct S3UploadSummary {
  std::string key;
  std::string upload_id;
  std::string initiated;
};

struct S3ListUploadsResult {
  std::vector<S3UploadSummary> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
  std::string request_id;
};

struct S3PartSummary {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;
};

struct S3ListPartsResult {
  std::vector<S3PartSummary> parts;
  bool truncated = false;
  int next_part_number_marker = 0;
  std::string request_id;
};

// Counters for the report, summed over every call of one client.
struct S3Stats {
  uint64_t requests = 0;          // HTTP requests sent, retries included
  uint64_t retries = 0;           // requests that were a retry
  uint64_t throttled = 0;         // 503 SlowDown answers
  uint64_t bytes_uploaded = 0;    // request bodies sent, retries included
  uint64_t bytes_downloaded = 0;  // object bytes received
};

class S3Client {
 public:
  S3Client() = default;
  virtual ~S3Client() = default;
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // OK when the bucket exists and these credentials may use it; NotFound
  // when it does not exist. Idempotent.
  virtual Status HeadBucket(const std::string& bucket) = 0;

  // The object's size, ETag and metadata. NotFound when there is none.
  // Idempotent.
  virtual Status HeadObject(const std::string& bucket, const std::string& key,
                            S3ObjectInfo* info) = 0;

  // Reads up to `length` bytes at `offset` into `buffer` (a ranged GET).
  // result->bytes is less than `length` only where the object ends, 0 at or
  // past its end. With `if_match` non-empty, the read fails
  // (InvalidArgument, HTTP 412) unless the object's ETag is that one, so
  // ranged reads of one object see one version. NotFound for a missing
  // key. Idempotent (a retry rewrites the buffer from the start).
  // REQUIRES: length > 0; buffer holds length bytes.
  virtual Status GetObject(const std::string& bucket, const std::string& key,
                           uint64_t offset, size_t length, void* buffer,
                           const std::string& if_match,
                           S3GetResult* result) = 0;

  // Writes a whole object in one request, with its metadata. With
  // `if_none_match`, the store refuses (InvalidArgument, HTTP 412) when the
  // key exists; a retry answered 412 whose object has the ETag this
  // payload gives (its MD5) counts as done: the first attempt was applied
  // and its answer lost. Idempotent (same bytes, same key).
  virtual Status PutObject(const std::string& bucket, const std::string& key,
                           const S3Payload& payload, const S3Metadata& metadata,
                           bool if_none_match, S3WriteResult* result) = 0;

  // Starts a multipart upload; the metadata becomes the object's at
  // completion. Not idempotent (a second attempt starts a second upload):
  // retried only when it cannot have been applied.
  virtual Status CreateMultipartUpload(const std::string& bucket,
                                       const std::string& key,
                                       const S3Metadata& metadata,
                                       std::string* upload_id) = 0;

  // Uploads part `part_number` (1..10000). The store keeps the last one
  // sent for a number. Parts but the last must be at least 5 MiB (checked
  // at completion). Idempotent.
  virtual Status UploadPart(const std::string& bucket, const std::string& key,
                            const std::string& upload_id, int part_number,
                            const S3Payload& payload,
                            S3WriteResult* result) = 0;

  // Makes part `part_number` from `length` bytes at `offset` of another
  // object (server-side, no bytes through the client); length 0 copies the
  // whole source. With `src_if_match` non-empty (an ETag), the copy fails
  // (HTTP 412) unless the source's ETag is that one
  // (x-amz-copy-source-if-match): the bytes copied are those of the object
  // version the caller knows. Idempotent.
  virtual Status UploadPartCopy(const std::string& bucket,
                                const std::string& key,
                                const std::string& upload_id, int part_number,
                                const std::string& src_bucket,
                                const std::string& src_key, uint64_t offset,
                                uint64_t length,
                                const std::string& src_if_match,
                                S3WriteResult* result) = 0;

  // Makes the object from the parts, in ascending part order. An error may
  // arrive inside a 200 answer; it is an error here. A retry that finds
  // the upload gone (NotFound) checks the object: when its ETag is the one
  // these parts make (MD5 of the parts' MD5s, "-N"), the first attempt was
  // applied and this is OK. Idempotent in that sense. result->etag is the
  // object's (computed from the parts when the store's answer has none, as
  // RGW 16's has not).
  // NOTE: the store replaces an existing key (If-None-Match is ignored
  // here by RGW 16): check before.
  virtual Status CompleteMultipartUpload(
      const std::string& bucket, const std::string& key,
      const std::string& upload_id, const std::vector<S3CompletedPart>& parts,
      S3WriteResult* result) = 0;

  // Drops an upload and its parts. NotFound when there is no such upload.
  // Idempotent.
  virtual Status AbortMultipartUpload(const std::string& bucket,
                                      const std::string& key,
                                      const std::string& upload_id) = 0;

  // One page of keys (ListObjectsV2, keys in UTF-8 binary order).
  // Idempotent.
  virtual Status ListObjectsV2(const std::string& bucket,
                               const S3ListObjectsRequest& request,
                               S3ListObjectsResult* result) = 0;

  // One page of the multipart uploads in progress under `prefix`, after
  // (key_marker, upload_id_marker). Idempotent.
  virtual Status ListMultipartUploads(const std::string& bucket,
                                      const std::string& prefix,
                                      const std::string& key_marker,
                                      const std::string& upload_id_marker,
                                      S3ListUploadsResult* result) = 0;

  // One page of an upload's parts after `part_number_marker`. NotFound
  // for an upload that is gone. Idempotent.
  virtual Status ListParts(const std::string& bucket, const std::string& key,
                           const std::string& upload_id, int part_number_marker,
                           S3ListPartsResult* result) = 0;

  // Copies an object server-side (up to 5 GiB), keeping its metadata.
  // An error inside a 200 answer is an error. Idempotent.
  virtual Status CopyObject(const std::string& src_bucket,
                            const std::string& src_key,
                            const std::string& bucket, const std::string& key,
                            S3WriteResult* result) = 0;

  // Deletes a key; OK when it was not there. Idempotent.
  virtual Status DeleteObject(const std::string& bucket,
                              const std::string& key) = 0;

  virtual S3Stats stats() const = 0;
};

// The real client. InvalidArgument for a malformed endpoint or CA bundle
// path; nothing is sent until the first call.
Status NewS3Client(const S3Config& config, std::unique_ptr<S3Client>* client);

// The ETag S3 gives an object completed from parts with these ETags (hex
// MD5s): hex MD5 of their binary MD5s, "-", the part count. Empty when an
// ETag is not a hex MD5.
std::string MultipartETag(const std::vector<S3CompletedPart>& parts);

// ------------------------------------------------------- destination --

// What an S3 destination did with its parts' bytes, counted as it goes
// (S3DestinationOptions::counters; the run's report gets the same figures
// as a note).
struct S3PartCounters {
  // Parts of exactly one chunk signed with the chunk's signed SHA-256 from
  // the manifest's chunk index, not hashed again.
  std::atomic<uint64_t> parts_signed_by_chunk{0};
  // Parts whose payload SHA-256 the destination computed, and their bytes.
  std::atomic<uint64_t> parts_hashed{0};
  std::atomic<uint64_t> bytes_hashed{0};
  // Dedup by chunk: copies from a source that failed (the part was sent).
  std::atomic<uint64_t> copies_failed{0};
};

// How an s3://BUCKET/PREFIX DEST of ingest works (src/dest/s3_destination.cc).
struct S3DestinationOptions {
  // Files of at most this many bytes become an object through one PUT
  // (If-None-Match: *) of bytes held in memory until they are named;
  // larger files, through a multipart upload. Default: 8 MiB.
  uint64_t put_max = uint64_t{8} << 20;
  // Bytes of small files held in memory at once, staged and not yet
  // named; a small file that does not fit goes through a multipart upload
  // of one part instead. Default: 256 MiB.
  uint64_t put_memory = uint64_t{256} << 20;
  // Part size of multipart uploads, rounded up to the read chunk size,
  // and grown for a file that would need more than 10,000 parts. S3 wants
  // at least 5 MiB for every part but the last. Default: 8 MiB.
  uint64_t part_size = uint64_t{8} << 20;
  // The store's smallest part (but the last). A read chunk size at least
  // this large is the part size instead of part_size (grown for a file
  // that would need more than 10,000 parts): with the signed chunk
  // digests deciding, a part of one chunk is signed with the chunk's
  // signed SHA-256 rather than hashed again. Default: 5 MiB, S3's and
  // RGW's minimum.
  uint64_t min_part_size = uint64_t{5} << 20;
  // Requests in flight at once (parts, PUTs, completions, copies).
  // Default: 16.
  unsigned threads = 16;
  // Threads computing each part's payload SHA-256 (unless it is a chunk's
  // signed digest) before it takes one of the `threads` request slots.
  // Default: 0, one per core (at most `threads`).
  unsigned digest_threads = 0;
  // Names this host's journal objects (PREFIX/.valise/journal/HOST/...)
  // and upload markers (PREFIX/.valise/uploads/HOST/...). Default: empty,
  // the machine's host name.
  std::string host;
  // A multipart upload under PREFIX/ initiated longer ago than this many
  // seconds is taken for the leftover of a run that died and is aborted,
  // whichever host started it (at Open and CleanUp). A younger one may be
  // another host's, live, and is left alone, unless this host's markers
  // say it is this host's own (an earlier run of this host, killed).
  // Default: 24 hours, longer than an upload of S3's largest object (5 TiB)
  // takes at 100 MB/s.
  uint64_t stale_upload_age_s = 24 * 3600;
  // Milliseconds between two reads of the other hosts' journal objects
  // while the run goes on (new objects only: a listing per host): a file
  // another host committed since is then not read by this one when its
  // turn comes (Stage refuses it, CommittedElsewhere). 0: not read after
  // Resume. Default: 2000.
  unsigned journal_poll_ms = 2000;
  // The clock that ages uploads, in seconds since the epoch. Default
  // (empty): the system's. Tests set it to the fake store's clock.
  std::function<int64_t()> now;
  // Where the destination also counts what it did with its parts (tests).
  // Must outlive the destination. Default: null.
  S3PartCounters* counters = nullptr;
};

}  // namespace valise
