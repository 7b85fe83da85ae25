// The ingest journal, DEST/.valise/journal: an append-only file of records
// saying which files are committed (durable under their final name).
//
// Framing, little-endian:  u32 payload length | u32 CRC32C(payload) | payload
// CRC32C is ISA-L's crc32_iscsi. A record is written only after the data it
// describes is durable, and records are group-committed (several appended,
// then one fdatasync). On resume the journal is read up to the first record
// that is short or fails its CRC (a torn tail from a crash); the file is
// truncated there before new records are appended.
//
// Thread safety: a JournalWriter is used by one thread; DecodeJournal and
// EncodeJournalRecord are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/status.h"

namespace valise {

struct JournalRecord {
  enum class Type : uint8_t {
    kBegin = 1,   // a run started; `note` = manifest identity (sha256 hex)
    kCommit = 2,  // `path` is durable under its final name
    kEnd = 3,     // a run finished; `note` = summary
  };
  Type type = Type::kCommit;
  std::string path;  // raw manifest path (kCommit)
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::vector<Digest> digests;
  std::string note;
};

// The payload encoding is private to journal.cc; this returns the framed
// bytes (length, CRC, payload) of one record.
std::string EncodeJournalRecord(const JournalRecord& r);

// Decodes every whole, CRC-valid record from the start of `data`, stopping
// at the first torn or bad one. *valid_bytes is where the good prefix ends.
// Never fails on a torn tail; Corruption only when a record has a valid CRC
// but an impossible payload (a bug or a forged file), naming its offset.
Status DecodeJournal(std::string_view data, std::vector<JournalRecord>* out,
                     uint64_t* valid_bytes);

class JournalWriter {
 public:
  // `file` is opened for appending and must remain live while this writer
  // is; `offset` is its current valid length (from DecodeJournal).
  JournalWriter(File* file, uint64_t offset);
  // Buffers a record; nothing reaches the file until Commit().
  void Add(const JournalRecord& r);
  // Writes the buffered records and makes them durable (fdatasync).
  Status Commit();
  size_t pending() const { return pending_records_; }

 private:
  File* file_;
  uint64_t offset_;
  std::string pending_;
  size_t pending_records_ = 0;
};

}  // namespace valise
