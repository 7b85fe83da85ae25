// Status: the result of an operation that may fail, and Result<T>, a value
// or the Status that explains its absence.
//
// An OK Status holds a null pointer, so success costs nothing to return.
// An error carries a code, the errno it came from (if any), two bits that
// tell callers what to do with it (retryable: try the same operation again;
// data_loss: the bytes at this place are gone, record the bad region and go
// on) and a message "msg: msg2".
//
// Status is [[nodiscard]]: a dropped error is a compile warning. Where an
// error is deliberately ignored, say so with s.PermitUncheckedError().
//
// An error from an HTTP service (the S3 client) also carries the HTTP
// status, the service's error code ("NoSuchKey", "SlowDown") and the
// request id it gave (x-amz-request-id), kept for the report.
//
// Thread safety: a const Status may be read from several threads; a
// non-const one needs external synchronisation, like any value.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace valise {

class [[nodiscard]] Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound,
    kCorruption,
    kNotSupported,
    kInvalidArgument,
    kIOError,
    kNoSpace,   // ENOSPC or EDQUOT: bytes or inodes
    kBusy,      // another process holds the lock
    kAborted,   // interrupted by a signal; state saved
    kTimedOut,  // a request did not complete within --io-timeout
  };

  Status() noexcept = default;  // OK

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kNotFound, msg, msg2);
  }
  static Status Corruption(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kCorruption, msg, msg2);
  }
  static Status NotSupported(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kNotSupported, msg, msg2);
  }
  static Status InvalidArgument(std::string_view msg,
                                std::string_view msg2 = {}) {
    return Status(Code::kInvalidArgument, msg, msg2);
  }
  static Status IOError(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kIOError, msg, msg2);
  }
  static Status NoSpace(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kNoSpace, msg, msg2);
  }
  static Status Busy(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kBusy, msg, msg2);
  }
  static Status Aborted(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kAborted, msg, msg2);
  }
  static Status TimedOut(std::string_view msg, std::string_view msg2 = {}) {
    return Status(Code::kTimedOut, msg, msg2);
  }

  // The one place errno becomes a Status. `context` names the subject and
  // the operation, e.g. "/dev/sdb: read at 4096". ENOENT maps to NotFound,
  // ENOSPC/EDQUOT to NoSpace, EINVAL and ELOOP (a forbidden symlink) to
  // InvalidArgument, EOPNOTSUPP/EXDEV to NotSupported, EAGAIN to Busy (a
  // held lock) and EINTR to IOError, both retryable; EIO and EILSEQ/EBADMSG
  // (checksum failures below us) are IOErrors with data_loss.
  static Status PosixError(std::string_view context, int err);

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsNotSupported() const { return code() == Code::kNotSupported; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsNoSpace() const { return code() == Code::kNoSpace; }
  bool IsBusy() const { return code() == Code::kBusy; }
  bool IsAborted() const { return code() == Code::kAborted; }
  bool IsTimedOut() const { return code() == Code::kTimedOut; }

  // The errno this status was built from, or 0.
  int err() const { return rep_ ? rep_->err : 0; }
  // Trying the same operation again may succeed (EAGAIN, EINTR).
  bool retryable() const { return rep_ && rep_->retryable; }
  // The data at this place could not be read back (EIO): record the range.
  bool data_loss() const { return rep_ && rep_->data_loss; }
  // Set by the simulated disk so tests can tell injected faults from real.
  bool injected() const { return rep_ && rep_->injected; }
  // From an HTTP service: the response's status (0 when none arrived: a
  // connection error), the service's error code and request id (empty
  // when it gave none).
  int http_status() const { return rep_ ? rep_->http_status : 0; }
  std::string service_code() const {
    return rep_ ? rep_->service_code : std::string();
  }
  std::string request_id() const {
    return rep_ ? rep_->request_id : std::string();
  }

  Status WithRetryable(bool v) const;
  Status WithDataLoss(bool v) const;
  Status WithInjected(bool v) const;
  // A copy carrying an HTTP service's answer (see http_status()).
  Status WithHttp(int http_status, std::string_view service_code,
                  std::string_view request_id) const;
  // A copy whose message is prefixed by "context: ".
  Status WithContext(std::string_view context) const;

  // The message alone, "msg: msg2" (empty when OK).
  std::string message() const { return rep_ ? rep_->msg : std::string(); }
  // "OK", or a code name then the message, e.g. "IO error: /x: read: EIO".
  std::string ToString() const;

  // Marks an error as deliberately ignored; greppable.
  void PermitUncheckedError() const {}

 private:
  struct Rep {
    Code code;
    int err = 0;
    bool retryable = false;
    bool data_loss = false;
    bool injected = false;
    int http_status = 0;
    std::string service_code;
    std::string request_id;
    std::string msg;
  };
  Status(Code code, std::string_view msg, std::string_view msg2);

  std::shared_ptr<const Rep> rep_;
};

// A value of type T, or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

#define VALISE_RETURN_IF_ERROR(expr)       \
  do {                                     \
    ::valise::Status _valise_s = (expr);   \
    if (!_valise_s.ok()) return _valise_s; \
  } while (0)

}  // namespace valise
