#include "valise/status.h"

#include <cerrno>
#include <cstring>

namespace valise {

Status::Status(Code code, std::string_view msg, std::string_view msg2) {
  auto rep = std::make_shared<Rep>();
  rep->code = code;
  rep->msg.assign(msg);
  if (!msg2.empty()) {
    rep->msg.append(": ");
    rep->msg.append(msg2);
  }
  rep_ = std::move(rep);
}

Status Status::PosixError(std::string_view context, int err) {
  const char* text = strerror(err);
  Status s;
  switch (err) {
    case ENOENT:
      s = NotFound(context, text);
      break;
    case ENOSPC:
    case EDQUOT:
      s = NoSpace(context, text);
      break;
    case EINVAL:
    case ELOOP:  // a symlink where RESOLVE_NO_SYMLINKS / O_NOFOLLOW forbid one
      s = InvalidArgument(context, text);
      break;
    case EOPNOTSUPP:
    case EXDEV:
      s = NotSupported(context, text);
      break;
    case EWOULDBLOCK:
      s = Busy(context, text);
      break;
    case ETIMEDOUT:
      s = TimedOut(context, text);
      break;
    default:
      s = IOError(context, text);
      break;
  }
  auto rep = std::make_shared<Rep>(*s.rep_);
  rep->err = err;
  rep->retryable = (err == EINTR || err == EAGAIN);
  rep->data_loss = (err == EIO || err == EILSEQ || err == EBADMSG ||
                    err == ENODATA || err == EUCLEAN);
  s.rep_ = std::move(rep);
  return s;
}

Status Status::WithRetryable(bool v) const {
  if (ok()) return *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->retryable = v;
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

Status Status::WithDataLoss(bool v) const {
  if (ok()) return *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->data_loss = v;
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

Status Status::WithInjected(bool v) const {
  if (ok()) return *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->injected = v;
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

Status Status::WithHttp(int http_status, std::string_view service_code,
                        std::string_view request_id) const {
  if (ok()) return *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->http_status = http_status;
  rep->service_code.assign(service_code);
  rep->request_id.assign(request_id);
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->msg = std::string(context) + ": " + rep->msg;
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  const char* name = "";
  switch (rep_->code) {
    case Code::kOk:
      name = "OK";
      break;
    case Code::kNotFound:
      name = "not found";
      break;
    case Code::kCorruption:
      name = "corruption";
      break;
    case Code::kNotSupported:
      name = "not supported";
      break;
    case Code::kInvalidArgument:
      name = "invalid argument";
      break;
    case Code::kIOError:
      name = "I/O error";
      break;
    case Code::kNoSpace:
      name = "no space";
      break;
    case Code::kBusy:
      name = "busy";
      break;
    case Code::kAborted:
      name = "aborted";
      break;
    case Code::kTimedOut:
      name = "timed out";
      break;
  }
  return std::string(name) + ": " + rep_->msg;
}

}  // namespace valise
