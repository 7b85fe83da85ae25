// The ingest journal: record framing, payload encoding and group commit.
//
// A record on disk:
//
//   u32 LE  payload length (1 .. kMaxJournalPayload)
//   u32 LE  CRC32C of the payload (ISA-L crc32_iscsi, seed ~0, final ~)
//   payload:
//     u8      type                   1 begin, 2 commit, 3 end
//     varint  path length, then the path's raw bytes
//     varint  size
//     varint  mtime_ns, zigzag-encoded (signed)
//     varint  digest count, then per digest:
//               u8 digest type (DigestType: 0 xxh128, 1 sha256, 2 sha1,
//                  3 md5, 4 sha512), u8 length (= that type's size),
//                  the digest bytes
//     varint  note length, then the note's raw bytes
//   and, only where has_identity (every commit record valise writes now;
//   absent from those of older versions):
//     varint  inode
//     varint  ctime_ns, zigzag-encoded (signed)
//
// Varints are LEB128 (7 bits a byte, low groups first, high bit = more),
// at most 10 bytes. The payload ends exactly after the note, or after the
// identity.
//
// Reading distinguishes two kinds of bad bytes:
//  - a torn tail: the frame does not fit in the remaining data, its length
//    is 0 or above 1 MiB, or the CRC does not match. A crash mid-append
//    produces exactly these (including the zero-filled tail that some file
//    systems expose when the size reached the disk before the data, whose
//    length 0 would otherwise carry a valid CRC, since CRC32C("") = 0), so
//    they end the journal silently.
//  - a CRC-valid record whose payload does not decode: unknown type, unknown
//    digest type or wrong digest length, a count or length running past the
//    payload, an identity cut short or bytes left after it, or a varint
//    that is overlong or not in its shortest form. No crash makes these (the
//    CRC would have to match by chance, 1 in 2^32), so they are Corruption: a
//    bug or a forged file, and the operator must look.
// Because the decoder accepts only the shortest varint forms and checks
// digest lengths, each list of records has exactly one encoding: decoding
// then re-encoding reproduces the input bytes (the fuzzer checks this).
#include "valise/journal.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace valise {

namespace {

uint32_t Crc32c(std::string_view data) {
  // ISA-L's crc32_iscsi neither inverts the seed nor the result: CRC32C
  // proper is crc32_iscsi(buf, len, ~0) ^ ~0 (checked against the standard
  // check value crc32c("123456789") = 0xE3069283 in journal_test.cc). It
  // takes an int length and a non-const pointer (it only reads), so feed it
  // in chunks below INT_MAX.
  uint32_t crc = 0xFFFFFFFFu;
  auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
  size_t left = data.size();
  while (left > 0) {
    size_t n = std::min<size_t>(left, size_t{1} << 30);
    crc = crc32_iscsi(p, static_cast<int>(n), crc);
    p += n;
    left -= n;
  }
  return crc ^ 0xFFFFFFFFu;
}

void PutFixed32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}

uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  }
  return v;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

// Bytes of one digest as encoded: d.size, bounded by the array it lives in.
size_t DigestBytes(const Digest& d) {
  return std::min<size_t>(d.size, d.bytes.size());
}

void EncodePayload(const JournalRecord& r, std::string* out) {
  out->push_back(static_cast<char>(r.type));
  PutBytes(out, r.path);
  PutVarint(out, r.size);
  PutVarint(out, ZigZag(r.mtime_ns));
  PutVarint(out, r.digests.size());
  for (const Digest& d : r.digests) {
    size_t n = DigestBytes(d);
    out->push_back(static_cast<char>(d.type));
    out->push_back(static_cast<char>(n));
    out->append(reinterpret_cast<const char*>(d.bytes.data()), n);
  }
  PutBytes(out, r.note);
  if (r.has_identity) {
    PutVarint(out, r.inode);
    PutVarint(out, ZigZag(r.ctime_ns));
  }
}

// Reads one payload. Every failure is a message saying what was wrong and
// where inside the payload; DecodeJournal adds the record's offset.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view p) : p_(p) {}

  bool done() const { return pos_ == p_.size(); }
  size_t pos() const { return pos_; }
  size_t left() const { return p_.size() - pos_; }
  const std::string& error() const { return error_; }

  bool Byte(uint8_t* v, const char* what) {
    if (left() < 1) return Fail(what, "runs past the payload");
    *v = static_cast<uint8_t>(p_[pos_++]);
    return true;
  }

  bool Varint(uint64_t* v, const char* what) {
    size_t start = pos_;
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (left() < 1) return Fail(what, "runs past the payload", start);
      uint8_t b = static_cast<uint8_t>(p_[pos_++]);
      // The 10th byte may only carry bit 63.
      if (shift == 63 && b > 1) return Fail(what, "overflows 64 bits", start);
      result |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        // Shortest form only: a multi-byte varint never ends in 0x00.
        if (b == 0 && pos_ - start > 1) {
          return Fail(what, "is not in shortest form", start);
        }
        *v = result;
        return true;
      }
    }
    return Fail(what, "overflows 64 bits", start);
  }

  bool Bytes(std::string* s, const char* what) {
    size_t start = pos_;
    uint64_t n = 0;
    if (!Varint(&n, what)) return false;
    if (n > left()) return Fail(what, "length runs past the payload", start);
    s->assign(p_.substr(pos_, n));
    pos_ += n;
    return true;
  }

  bool Raw(void* dst, size_t n, const char* what) {
    if (n > left()) return Fail(what, "runs past the payload");
    memcpy(dst, p_.data() + pos_, n);
    pos_ += n;
    return true;
  }

  bool Fail(const char* what, const std::string& why) {
    return Fail(what, why, pos_);
  }
  bool Fail(const char* what, const std::string& why, size_t at) {
    error_ = std::string(what) + " " + why + " (payload byte " +
             std::to_string(at) + ")";
    return false;
  }

 private:
  std::string_view p_;
  size_t pos_ = 0;
  std::string error_;
};

bool DecodePayload(std::string_view payload, JournalRecord* r,
                   std::string* error) {
  PayloadReader in(payload);
  auto fail = [&] {
    *error = in.error();
    return false;
  };
  uint8_t type = 0;
  if (!in.Byte(&type, "record type")) return fail();
  if (type < static_cast<uint8_t>(JournalRecord::Type::kBegin) ||
      type > static_cast<uint8_t>(JournalRecord::Type::kEnd)) {
    in.Fail("record type", std::to_string(type) + " is unknown", 0);
    return fail();
  }
  r->type = static_cast<JournalRecord::Type>(type);
  if (!in.Bytes(&r->path, "path")) return fail();
  if (!in.Varint(&r->size, "size")) return fail();
  uint64_t mtime = 0;
  if (!in.Varint(&mtime, "mtime")) return fail();
  r->mtime_ns = UnZigZag(mtime);
  uint64_t count = 0;
  size_t count_at = in.pos();
  if (!in.Varint(&count, "digest count")) return fail();
  // Each digest takes at least 2 bytes: refuse a count the payload cannot
  // hold before reserving memory for it.
  if (count > in.left() / 2) {
    in.Fail("digest count", std::to_string(count) + " runs past the payload",
            count_at);
    return fail();
  }
  r->digests.clear();
  r->digests.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    size_t at = in.pos();
    uint8_t dtype = 0;
    uint8_t len = 0;
    if (!in.Byte(&dtype, "digest type")) return fail();
    if (dtype >= kNumDigestTypes) {
      in.Fail("digest type", std::to_string(dtype) + " is unknown", at);
      return fail();
    }
    Digest d;
    d.type = static_cast<DigestType>(dtype);
    if (!in.Byte(&len, "digest length")) return fail();
    if (len != DigestSize(d.type)) {
      in.Fail("digest length",
              std::to_string(len) + " is wrong for " +
                  std::string(DigestName(d.type)),
              at + 1);
      return fail();
    }
    d.size = len;
    if (!in.Raw(d.bytes.data(), len, "digest")) return fail();
    r->digests.push_back(d);
  }
  if (!in.Bytes(&r->note, "note")) return fail();
  r->has_identity = !in.done();
  if (r->has_identity) {
    uint64_t ctime = 0;
    if (!in.Varint(&r->inode, "inode")) return fail();
    if (!in.Varint(&ctime, "ctime")) return fail();
    r->ctime_ns = UnZigZag(ctime);
  }
  if (!in.done()) {
    in.Fail("payload",
            std::to_string(in.left()) + " bytes follow the file's identity");
    return fail();
  }
  return true;
}

}  // namespace

size_t JournalPayloadSize(const JournalRecord& r) {
  size_t n = 1;
  n += VarintSize(r.path.size()) + r.path.size();
  n += VarintSize(r.size);
  n += VarintSize(ZigZag(r.mtime_ns));
  n += VarintSize(r.digests.size());
  for (const Digest& d : r.digests) n += 2 + DigestBytes(d);
  n += VarintSize(r.note.size()) + r.note.size();
  if (r.has_identity) n += VarintSize(r.inode) + VarintSize(ZigZag(r.ctime_ns));
  return n;
}

std::string EncodeJournalRecord(const JournalRecord& r) {
  std::string payload;
  payload.reserve(JournalPayloadSize(r));
  EncodePayload(r, &payload);
  std::string out;
  out.reserve(kJournalHeaderSize + payload.size());
  PutFixed32(&out, static_cast<uint32_t>(payload.size()));
  PutFixed32(&out, Crc32c(payload));
  out.append(payload);
  return out;
}

Status DecodeJournal(std::string_view data, std::vector<JournalRecord>* out,
                     uint64_t* valid_bytes) {
  out->clear();
  size_t pos = 0;
  while (data.size() - pos >= kJournalHeaderSize) {
    uint32_t len = GetFixed32(data.data() + pos);
    uint32_t crc = GetFixed32(data.data() + pos + 4);
    // Torn or garbage tail: stop without error (see the file comment).
    if (len == 0 || len > kMaxJournalPayload) break;
    if (len > data.size() - pos - kJournalHeaderSize) break;
    std::string_view payload = data.substr(pos + kJournalHeaderSize, len);
    if (Crc32c(payload) != crc) break;

    JournalRecord r;
    std::string error;
    if (!DecodePayload(payload, &r, &error)) {
      *valid_bytes = pos;
      return Status::Corruption(
          "journal: record at offset " + std::to_string(pos), error);
    }
    out->push_back(std::move(r));
    pos += kJournalHeaderSize + len;
  }
  *valid_bytes = pos;
  return Status::OK();
}

JournalWriter::JournalWriter(File* file, uint64_t offset)
    : file_(file), offset_(offset) {}

void JournalWriter::Add(const JournalRecord& r) {
  size_t n = JournalPayloadSize(r);
  if (n > kMaxJournalPayload) {
    if (add_error_.ok()) {
      add_error_ = Status::InvalidArgument(
          file_->path() + ": journal record for " + r.path,
          "payload of " + std::to_string(n) + " bytes exceeds the limit of " +
              std::to_string(kMaxJournalPayload));
    }
    return;
  }
  pending_.append(EncodeJournalRecord(r));
  ++pending_records_;
}

Status JournalWriter::Commit() { return WriteAndMaybeSync(true); }

Status JournalWriter::Write() { return WriteAndMaybeSync(false); }

Status JournalWriter::WriteAndMaybeSync(bool sync) {
  if (!add_error_.ok()) {
    Status s = add_error_;
    add_error_ = Status::OK();
    return s;
  }
  if (pending_.empty()) return Status::OK();
  if (truncate_first_) {
    // ftruncate to the valid length: drops a torn tail or the partial bytes
    // of a failed Commit, so the group lands right after the last good
    // record. A positional write alone would not do on a file opened with
    // O_APPEND, where Linux pwrite(2) ignores the offset and appends at the
    // end of the file.
    VALISE_RETURN_IF_ERROR(file_->Truncate(offset_));
  }
  Status s = file_->WriteAt(offset_, pending_.data(), pending_.size());
  // fdatasync, which also makes the new length durable. If it fails, the
  // kernel may already have marked the pages clean (or dropped them), and a
  // second fdatasync alone would prove nothing: the retry writes the bytes
  // again.
  if (s.ok() && sync) s = file_->Sync();
  if (!s.ok()) {
    truncate_first_ = true;
    return s;
  }
  truncate_first_ = false;
  offset_ += pending_.size();
  pending_.clear();
  pending_records_ = 0;
  return Status::OK();
}

}  // namespace valise
