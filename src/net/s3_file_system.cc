// The read-only view of an object store as a file system
// (valise/s3_file_system.h).
//
// A root is a (bucket, prefix) listed once: the first path under s3:// that
// no known root covers becomes one, listed flat (no delimiter, so RGW's
// unencoded common prefixes never matter) into a map of files and a set
// of directories. Later paths are answered from there.
#include "valise/s3_file_system.h"

#include <cerrno>
#include <ctime>
#include <map>
#include <mutex>
#include <set>

#include "io/threaded_queue.h"
#include "valise/digest.h"

namespace valise {
namespace {

struct Object {
  uint64_t size = 0;
  std::string etag;
  int64_t mtime_ns = 0;
};

// One listed prefix.
struct Root {
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'; may be empty
  std::map<std::string, Object> files;  // by path relative to the prefix
  std::set<std::string> dirs;           // relative; "" is the root
  uint64_t device = 0;
};

// A relative path a file system could hold: no empty, "." or ".."
// segment.
bool NameablePath(const std::string& rel) {
  if (rel.empty()) return false;
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    std::string_view seg(
        rel.data() + start,
        (slash == std::string::npos ? rel.size() : slash) - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

// The errno the reader acts on for a failed S3 call (see the header).
int ErrnoFor(const Status& s) {
  if (s.IsNotFound()) return ENOENT;
  if (s.http_status() == 412) return ESTALE;
  if (s.http_status() == 403) return EACCES;
  if (s.retryable() || s.http_status() == 0) return ENOTCONN;
  return EPROTO;
}

Status ReadOnly(const std::string& path) {
  return Status::PosixError(path, EROFS);
}

class S3ObjectFile final : public File {
 public:
  S3ObjectFile(S3Client* client, std::string path, std::string bucket,
               std::string key, const Object& o)
      : client_(client),
        path_(std::move(path)),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        object_(o) {}

  const std::string& path() const override { return path_; }

  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override {
    *bytes_read = 0;
    if (n == 0 || offset >= object_.size) return Status::OK();
    S3GetResult r;
    Status s =
        client_->GetObject(bucket_, key_, offset, n, scratch, object_.etag, &r);
    if (!s.ok()) {
      return Status::PosixError(s.message(), ErrnoFor(s))
          .WithHttp(s.http_status(), s.service_code(), s.request_id());
    }
    *bytes_read = r.bytes;
    return Status::OK();
  }
  Status WriteAt(uint64_t, const char*, size_t) override {
    return ReadOnly(path_);
  }
  Status Size(uint64_t* size) const override {
    *size = object_.size;
    return Status::OK();
  }
  Status Sync() override { return ReadOnly(path_); }
  Status Truncate(uint64_t) override { return ReadOnly(path_); }
  Status SetModeAndTime(uint32_t, int64_t) override { return ReadOnly(path_); }
  Status PhysicalOffset(uint64_t*) const override {
    return Status::NotSupported(path_, "an object has no physical offset");
  }
  Status CloneFrom(const File&, uint64_t, uint64_t, uint64_t) override {
    return ReadOnly(path_);
  }

 private:
  S3Client* client_;
  const std::string path_;
  const std::string bucket_;
  const std::string key_;
  const Object object_;
};

class S3FileSystem final : public FileSystem {
 public:
  S3FileSystem(FileSystem* base, S3Client* client, unsigned threads)
      : base_(base), client_(client), threads_(threads) {}

  Status Stat(const std::string& path, FileInfo* info) override {
    if (!IsS3Url(path)) return base_->Stat(path, info);
    Root* root;
    std::string rel;
    VALISE_RETURN_IF_ERROR(Find(path, &root, &rel));
    *info = FileInfo();
    info->device = root->device;
    auto f = root->files.find(rel);
    if (f != root->files.end()) {
      info->type = FileType::kRegular;
      info->size = f->second.size;
      info->mtime_ns = f->second.mtime_ns;
      info->mode = 0444;
      info->nlink = 1;
      return Status::OK();
    }
    if (root->dirs.count(rel) > 0) {
      info->type = FileType::kDirectory;
      info->mode = 0555;
      return Status::OK();
    }
    return Status::PosixError(path, ENOENT);
  }

  Status ListDir(const std::string& path,
                 std::vector<DirEntry>* entries) override {
    if (!IsS3Url(path)) return base_->ListDir(path, entries);
    Root* root;
    std::string rel;
    VALISE_RETURN_IF_ERROR(Find(path, &root, &rel));
    if (root->dirs.count(rel) == 0) {
      return Status::PosixError(path,
                                root->files.count(rel) ? ENOTDIR : ENOENT);
    }
    entries->clear();
    const std::string under = rel.empty() ? "" : rel + "/";
    auto add_children = [&](auto begin, auto end, FileType type) {
      for (auto it = begin; it != end; ++it) {
        const std::string& p = Key(*it);
        if (p.compare(0, under.size(), under) != 0) break;
        std::string rest = p.substr(under.size());
        if (rest.empty() || rest.find('/') != std::string::npos) continue;
        entries->push_back(DirEntry{rest, type});
      }
    };
    add_children(root->files.lower_bound(under), root->files.end(),
                 FileType::kRegular);
    add_children(root->dirs.lower_bound(under), root->dirs.end(),
                 FileType::kDirectory);
    return Status::OK();
  }

  Status OpenForRead(const std::string& path, const ReadOptions& opt,
                     std::unique_ptr<File>* result) override {
    if (!IsS3Url(path)) return base_->OpenForRead(path, opt, result);
    Root* root;
    std::string rel;
    VALISE_RETURN_IF_ERROR(Find(path, &root, &rel));
    auto f = root->files.find(rel);
    if (f == root->files.end()) {
      return Status::PosixError(path, root->dirs.count(rel) ? EISDIR : ENOENT);
    }
    std::string key = root->prefix.empty() ? rel : root->prefix + "/" + rel;
    *result = std::make_unique<S3ObjectFile>(client_, path, root->bucket,
                                             std::move(key), f->second);
    return Status::OK();
  }

  Status OpenDirectory(const std::string& path, bool create,
                       std::unique_ptr<Directory>* result) override {
    if (!IsS3Url(path)) return base_->OpenDirectory(path, create, result);
    return Status::NotSupported(path,
                                "not a directory DEST (S3 is read "
                                "through this view only)");
  }

  Status ReadSmallFile(const std::string& path, std::string* data,
                       size_t max_size) override {
    if (!IsS3Url(path)) return base_->ReadSmallFile(path, data, max_size);
    std::unique_ptr<File> f;
    VALISE_RETURN_IF_ERROR(OpenForRead(path, ReadOptions(), &f));
    uint64_t size = 0;
    VALISE_RETURN_IF_ERROR(f->Size(&size));
    if (size > max_size) {
      return Status::InvalidArgument(path,
                                     "larger than " + std::to_string(max_size));
    }
    data->assign(size, '\0');
    size_t got = 0;
    VALISE_RETURN_IF_ERROR(f->ReadAt(0, size, data->data(), &got));
    data->resize(got);
    return Status::OK();
  }

  // One PUT with If-None-Match: * (whole or not at all, and never over an
  // object already there: EEXIST). For the run records an ingest leaves
  // under an s3:// DEST; the listing cache does not see the new object.
  Status WriteSmallFile(const std::string& path, const std::string& data,
                        uint32_t mode) override {
    if (!IsS3Url(path)) return base_->WriteSmallFile(path, data, mode);
    S3Url url;
    VALISE_RETURN_IF_ERROR(ParseS3Url(path, &url));
    if (url.prefix.empty()) return Status::PosixError(path, EISDIR);
    auto md5 = Hasher::New(DigestType::kMd5);
    auto sha = Hasher::New(DigestType::kSha256);
    md5->Update(data.data(), data.size());
    sha->Update(data.data(), data.size());
    S3Payload payload;
    payload.pieces.push_back({data.data(), data.size()});
    payload.md5 = md5->Finish();
    payload.sha256 = sha->Finish();
    S3WriteResult w;
    Status s =
        client_->PutObject(url.bucket, url.prefix, payload, {}, true, &w);
    if (s.http_status() == 412) return Status::PosixError(path, EEXIST);
    return s;
  }

  Status CreateOutput(const std::string& path, uint32_t mode,
                      const OutputOptions& opt,
                      std::unique_ptr<OutputFile>* result) override {
    if (!IsS3Url(path)) return base_->CreateOutput(path, mode, opt, result);
    return ReadOnly(path);
  }

  Status ResolvePath(const std::string& path, std::string* resolved) override {
    if (!IsS3Url(path)) return base_->ResolvePath(path, resolved);
    *resolved = path;
    return Status::OK();
  }

  Status ReadLargeFile(const std::string& path, size_t max_size,
                       std::unique_ptr<FileContents>* result) override {
    if (!IsS3Url(path)) return base_->ReadLargeFile(path, max_size, result);
    return FileSystem::ReadLargeFile(path, max_size, result);
  }

  std::unique_ptr<IoQueue> NewIoQueue(const IoQueueOptions& opt,
                                      std::string* note) override {
    auto q = NewThreadedQueue(base_->NewIoQueue(opt, note), threads_);
    *note += "; s3: " + std::to_string(threads_) + " GETs in flight";
    return q;
  }

  uint64_t NowMicros() override { return base_->NowMicros(); }

 private:
  static const std::string& Key(const std::pair<const std::string, Object>& p) {
    return p.first;
  }
  static const std::string& Key(const std::string& s) { return s; }

  // The root covering `path` (listed now if none does) and the path
  // relative to it.
  Status Find(const std::string& path, Root** root, std::string* rel) {
    S3Url url;
    VALISE_RETURN_IF_ERROR(ParseS3Url(path, &url));
    std::lock_guard<std::mutex> l(mu_);
    for (auto& r : roots_) {
      if (r->bucket != url.bucket) continue;
      if (r->prefix.empty() || url.prefix == r->prefix ||
          url.prefix.compare(0, r->prefix.size() + 1, r->prefix + "/") == 0) {
        *root = r.get();
        *rel = r->prefix.empty() ? url.prefix
               : url.prefix.size() == r->prefix.size()
                   ? std::string()
                   : url.prefix.substr(r->prefix.size() + 1);
        return Status::OK();
      }
    }
    auto r = std::make_unique<Root>();
    r->bucket = url.bucket;
    r->prefix = url.prefix;
    rel->clear();
    // A path naming an object (a file under an S3 DEST read back) is
    // listed with its parent prefix, so that the object is a file in it.
    S3ObjectInfo head;
    const size_t slash = url.prefix.rfind('/');
    if (!url.prefix.empty() &&
        client_->HeadObject(url.bucket, url.prefix, &head).ok()) {
      r->prefix = slash == std::string::npos ? "" : url.prefix.substr(0, slash);
      *rel = url.prefix.substr(slash == std::string::npos ? 0 : slash + 1);
    }
    r->device = roots_.size() + 1;
    VALISE_RETURN_IF_ERROR(List(r.get(), path));
    *root = r.get();
    roots_.push_back(std::move(r));
    return Status::OK();
  }

  Status List(Root* r, const std::string& path) {
    VALISE_RETURN_IF_ERROR(client_->HeadBucket(r->bucket));
    r->dirs.insert("");
    S3ListObjectsRequest req;
    req.prefix = r->prefix.empty() ? "" : r->prefix + "/";
    S3ListObjectsResult page;
    do {
      VALISE_RETURN_IF_ERROR(client_->ListObjectsV2(r->bucket, req, &page));
      for (const S3ObjectSummary& o : page.objects) {
        std::string rel = o.key.substr(req.prefix.size());
        // Its directories, up to a segment a path cannot name ("m/" is a
        // directory marker: "m" is a directory, the key no file).
        for (size_t slash = rel.find('/'); slash != std::string::npos;
             slash = rel.find('/', slash + 1)) {
          if (!NameablePath(rel.substr(0, slash))) break;
          r->dirs.insert(rel.substr(0, slash));
        }
        if (!NameablePath(rel)) continue;
        r->files[rel] = Object{o.size, o.etag, ParseS3Time(o.last_modified)};
      }
      req.continuation_token = page.next_continuation_token;
    } while (page.truncated);
    // A file and a directory of one name ("a" and "a/b"): the directory
    // wins, as the file could not be named beside it on a file system.
    for (const std::string& d : r->dirs) r->files.erase(d);
    (void)path;
    return Status::OK();
  }

  FileSystem* base_;
  S3Client* client_;
  const unsigned threads_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Root>> roots_;
};

}  // namespace

std::unique_ptr<FileSystem> NewS3FileSystem(FileSystem* base, S3Client* client,
                                            unsigned threads) {
  return std::make_unique<S3FileSystem>(base, client, threads);
}

}  // namespace valise
