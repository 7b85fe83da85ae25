// The ingest journal, DEST/.valise/journal: an append-only file of records
// saying which files are committed (durable under their final name).
//
// Framing, little-endian:  u32 payload length | u32 CRC32C(payload) | payload
// CRC32C is ISA-L's crc32_iscsi (Castagnoli, the iSCSI/ext4/btrfs CRC:
// crc32c("123456789") = 0xE3069283). A record is written only after the data
// it describes is durable, and records are group-committed (several
// appended, then one fdatasync). On resume the journal is read up to the
// first record that is short, zero-length, longer than
// kMaxJournalPayload, or fails its CRC (a torn tail from a crash); the
// writer truncates the file there before appending new records. The payload
// encoding is described in journal.cc and docs/formats-journal.md.
//
// Thread safety: a JournalWriter is used by one thread; DecodeJournal and
// EncodeJournalRecord are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/status.h"

namespace valise {

// Largest payload a record may have (1 MiB). A length field above it is
// read as garbage (a torn tail), never as a record; JournalWriter refuses
// to write a record whose payload would exceed it.
inline constexpr size_t kMaxJournalPayload = size_t{1} << 20;
// Bytes of framing before each payload: u32 length, u32 CRC32C.
inline constexpr size_t kJournalHeaderSize = 8;

struct JournalRecord {
  enum class Type : uint8_t {
    kBegin = 1,   // a run started; `note` informational ("N files")
    kCommit = 2,  // `path` is durable under its final name
    kEnd = 3,     // a run finished; `note` = summary
  };
  Type type = Type::kCommit;
  std::string path;  // raw manifest path (kCommit)
  uint64_t size = 0;
  // kCommit: the file's mtime as lstat saw it once named (in records
  // without an identity, below: the mtime valise set).
  int64_t mtime_ns = 0;
  std::vector<Digest> digests;
  std::string note;
  // kCommit: what identifies the file under its final name, as lstat saw
  // it right after it was named: a rerun trusts the record (skips reading
  // the file) only while size, mtime, inode and, for a file with one link,
  // ctime are the same. Encoded after the note; has_identity is false in
  // records without it (older valise), which are never trusted blindly:
  // the file is read again.
  bool has_identity = false;
  uint64_t inode = 0;
  int64_t ctime_ns = 0;

  bool operator==(const JournalRecord& o) const = default;
};

// The payload encoding is private to journal.cc; this returns the framed
// bytes (length, CRC, payload) of one record. Every field is encoded
// whatever the type. REQUIRES: each digest's type is a DigestType and its
// size is DigestSize(type) (as Hasher and Digest::FromHex make them); the
// encoded payload exceeds kMaxJournalPayload only if path + note are about
// 1 MiB, which JournalWriter::Add checks (see JournalPayloadSize).
std::string EncodeJournalRecord(const JournalRecord& r);
// Size of the payload EncodeJournalRecord(r) would frame.
size_t JournalPayloadSize(const JournalRecord& r);

// Decodes every whole, CRC-valid record from the start of `data`, stopping
// at the first torn or bad one. *out is replaced by the records of the good
// prefix, and *valid_bytes is where that prefix ends (always a record
// boundary). Never fails on a torn tail; Corruption only when a record has
// a valid CRC but an impossible payload (a bug or a forged file), naming its
// byte offset; *out and *valid_bytes then describe the records before it.
Status DecodeJournal(std::string_view data, std::vector<JournalRecord>* out,
                     uint64_t* valid_bytes);

// Appends records to the journal in groups. A group reaches the file only
// in Commit(), as one positional write at the journal's valid length
// followed by one fdatasync. If the write or sync fails, nothing advances:
// the group stays pending and the next Commit() writes the same bytes at
// the same offset again (after a failed fsync the kernel may have dropped
// the dirty pages, so the bytes must be written again, not just synced).
class JournalWriter {
 public:
  // `file` is the journal, opened for writing, and must remain live while
  // this writer is; `offset` is its current valid length (from
  // DecodeJournal). The first Commit() truncates the file to `offset`,
  // dropping any torn tail, so the new records follow the last good one even
  // if the file was opened with O_APPEND.
  JournalWriter(File* file, uint64_t offset);
  // Buffers a record; nothing reaches the file until Commit(). A record
  // whose payload would exceed kMaxJournalPayload is not buffered; the next
  // Commit() reports it (InvalidArgument) and writes nothing, and the one
  // after that writes the other pending records.
  void Add(const JournalRecord& r);
  // Writes the buffered records and makes them durable (fdatasync). On
  // error, offset() and pending() are unchanged.
  Status Commit();
  // Writes the buffered records without making them durable: the caller
  // does, with one syncfs of the file system for the journal and the files
  // it names (see ingest's commit protocol). Errors as Commit().
  Status Write();
  size_t pending() const { return pending_records_; }
  // Where the next group will be written: the journal's length, durable
  // after Commit() (after Write() once the caller has synced).
  uint64_t offset() const { return offset_; }

 private:
  Status WriteAndMaybeSync(bool sync);

  File* file_;
  uint64_t offset_;
  std::string pending_;
  size_t pending_records_ = 0;
  // The file may hold bytes past offset_ (a torn tail, or a failed
  // Commit's partial write): truncate before writing.
  bool truncate_first_ = true;
  // A record was refused by Add(); reported by the next Commit().
  Status add_error_;
};

}  // namespace valise
