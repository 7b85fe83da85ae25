#include "valise/journal.h"

#include <isa-l/crc.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "support/test_util.h"

namespace valise {
namespace {

// CRC32C computed bit by bit (Castagnoli, reflected polynomial 0x82F63B78,
// initial ~0, final ~): an implementation independent of ISA-L.
uint32_t SlowCrc32c(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (char c : data) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) {
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
  }
  return ~crc;
}

uint32_t GetLe32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])) << (8 * i);
  }
  return v;
}

void PutLe32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}

// Frames an arbitrary payload with its true length and CRC.
std::string Frame(std::string_view payload) {
  std::string out;
  PutLe32(&out, static_cast<uint32_t>(payload.size()));
  PutLe32(&out, SlowCrc32c(payload));
  out.append(payload);
  return out;
}

Digest MakeDigest(DigestType type, uint64_t seed) {
  Digest d;
  d.type = type;
  d.size = static_cast<uint8_t>(DigestSize(type));
  std::string bytes = test::RandomBytes(d.size, seed);
  memcpy(d.bytes.data(), bytes.data(), d.size);
  return d;
}

JournalRecord RandomRecord(std::mt19937_64& rng) {
  JournalRecord r;
  r.type = static_cast<JournalRecord::Type>(1 + rng() % 3);
  // Raw path bytes, NUL and high bytes included; lengths cross the one- and
  // two-byte varint boundaries.
  r.path = test::RandomBytes(rng() % 300, rng());
  switch (rng() % 4) {
    case 0:
      r.size = rng() % 128;
      break;
    case 1:
      r.size = rng();
      break;
    case 2:
      r.size = std::numeric_limits<uint64_t>::max();
      break;
    default:
      r.size = rng() % (uint64_t{1} << 40);
  }
  switch (rng() % 4) {
    case 0:
      r.mtime_ns = -static_cast<int64_t>(rng() % 1000);
      break;
    case 1:
      r.mtime_ns = std::numeric_limits<int64_t>::min();
      break;
    case 2:
      r.mtime_ns = std::numeric_limits<int64_t>::max();
      break;
    default:
      r.mtime_ns = static_cast<int64_t>(rng());
  }
  size_t n = rng() % 6;
  for (size_t i = 0; i < n; ++i) {
    r.digests.push_back(
        MakeDigest(static_cast<DigestType>(rng() % kNumDigestTypes), rng()));
  }
  if (rng() % 2) r.note = test::RandomBytes(rng() % 200, rng());
  if (rng() % 2) {
    r.has_identity = true;
    r.inode = rng() >> (rng() % 64);
    r.ctime_ns = static_cast<int64_t>(rng()) >> (rng() % 64);
  }
  return r;
}

std::vector<JournalRecord> RandomRecords(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<JournalRecord> v;
  for (size_t i = 0; i < n; ++i) v.push_back(RandomRecord(rng));
  return v;
}

// Encodes records; *ends gets each record's end offset.
std::string EncodeAll(const std::vector<JournalRecord>& records,
                      std::vector<uint64_t>* ends = nullptr) {
  std::string out;
  for (const JournalRecord& r : records) {
    out += EncodeJournalRecord(r);
    if (ends) ends->push_back(out.size());
  }
  return out;
}

JournalRecord CommitRecord(std::string path, uint64_t size) {
  JournalRecord r;
  r.type = JournalRecord::Type::kCommit;
  r.path = std::move(path);
  r.size = size;
  r.mtime_ns = 1732831200123456789;
  r.digests.push_back(MakeDigest(DigestType::kSha256, size));
  r.digests.push_back(MakeDigest(DigestType::kXxh128, size + 1));
  return r;
}

// A File holding its bytes in memory, for JournalWriter. It keeps two
// images: `data` (what reads see) and `durable` (what survives a crash: the
// data as of the last successful Sync). Switches make WriteAt fail (after
// writing the first half, like a short write cut by EIO) or Sync fail; a
// failed Sync reverts `data` to `durable`, as Linux may drop the dirty
// pages of a failed fsync, so a writer that merely re-syncs loses records.
// `append_mode` mimics O_APPEND: writes land at the end whatever the
// offset, as Linux pwrite(2) does.
class MemFile final : public File {
 public:
  struct Write {
    uint64_t offset;
    std::string bytes;
  };

  explicit MemFile(std::string initial = {})
      : data(initial), durable(std::move(initial)) {}

  const std::string& path() const override { return path_; }
  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override {
    size_t avail = offset < data.size() ? data.size() - offset : 0;
    *bytes_read = std::min(n, avail);
    if (*bytes_read) memcpy(scratch, data.data() + offset, *bytes_read);
    return Status::OK();
  }
  Status WriteAt(uint64_t offset, const char* p, size_t n) override {
    writes.push_back({offset, std::string(p, n)});
    if (append_mode) offset = data.size();
    size_t todo = fail_write ? n / 2 : n;
    if (data.size() < offset + todo) data.resize(offset + todo);
    memcpy(data.data() + offset, p, todo);
    if (fail_write) {
      return Status::PosixError(path_ + ": write at " + std::to_string(offset),
                                EIO);
    }
    return Status::OK();
  }
  Status Size(uint64_t* size) const override {
    *size = data.size();
    return Status::OK();
  }
  Status Sync() override {
    ++syncs;
    if (fail_sync) {
      data = durable;
      return Status::PosixError(path_ + ": fdatasync", EIO);
    }
    durable = data;
    return Status::OK();
  }
  Status Truncate(uint64_t size) override {
    ++truncates;
    if (fail_truncate) {
      return Status::PosixError(path_ + ": ftruncate", EIO);
    }
    data.resize(size);
    return Status::OK();
  }
  Status SetModeAndTime(uint32_t, int64_t) override { return Status::OK(); }
  Status PhysicalOffset(uint64_t*) const override {
    return Status::NotSupported(path_ + ": FIEMAP");
  }
  Status CloneFrom(const File&, uint64_t, uint64_t, uint64_t) override {
    return Status::NotSupported(path_ + ": FICLONERANGE");
  }

  std::string data;
  std::string durable;
  bool fail_write = false;
  bool fail_sync = false;
  bool fail_truncate = false;
  bool append_mode = false;
  int syncs = 0;
  int truncates = 0;
  std::vector<Write> writes;

 private:
  std::string path_ = "/dest/.valise/journal";
};

// Goal: the framing CRC is standard CRC32C: ISA-L with the conventions
// journal.cc uses gives the published check value, the bitwise reference
// agrees, and an encoded record carries CRC32C of its payload.
TEST(Journal, Crc32cMatchesStandard) {
  std::string check = "123456789";
  EXPECT_EQ(SlowCrc32c(check), 0xE3069283u);
  EXPECT_EQ(crc32_iscsi(reinterpret_cast<unsigned char*>(check.data()), 9,
                        0xFFFFFFFFu) ^
                0xFFFFFFFFu,
            0xE3069283u);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 50; ++i) {
    std::string rec = EncodeJournalRecord(RandomRecord(rng));
    uint32_t len = GetLe32(rec, 0);
    ASSERT_EQ(rec.size(), kJournalHeaderSize + len);
    EXPECT_EQ(GetLe32(rec, 4),
              SlowCrc32c(std::string_view(rec).substr(kJournalHeaderSize)));
  }
}

// Goal: the byte layout is the documented one (docs/formats-journal.md):
// type, LEB128 lengths and size, zigzag mtime, typed digests, note.
TEST(Journal, PayloadLayout) {
  JournalRecord r;
  r.type = JournalRecord::Type::kCommit;
  r.path = "a/b";
  r.size = 300;     // LEB128: ac 02
  r.mtime_ns = -1;  // zigzag: 01
  Digest d = MakeDigest(DigestType::kMd5, 9);
  r.digests.push_back(d);
  r.note = "hi";
  std::string payload =
      std::string(
          "\x02\x03"
          "a/b"
          "\xac\x02\x01\x01",
          9) +
      std::string("\x03\x10", 2) +
      std::string(reinterpret_cast<char*>(d.bytes.data()), 16) + "\x02hi";
  EXPECT_EQ(EncodeJournalRecord(r), Frame(payload));
  EXPECT_EQ(JournalPayloadSize(r), payload.size());

  // The identity follows the note: inode, zigzag ctime (issue 12, item 3).
  r.has_identity = true;
  r.inode = 300;    // ac 02
  r.ctime_ns = -2;  // zigzag: 03
  payload += std::string("\xac\x02\x03", 3);
  EXPECT_EQ(EncodeJournalRecord(r), Frame(payload));
  EXPECT_EQ(JournalPayloadSize(r), payload.size());

  JournalRecord begin;
  begin.type = JournalRecord::Type::kBegin;
  begin.mtime_ns = 1;  // zigzag: 02
  EXPECT_EQ(EncodeJournalRecord(begin),
            Frame(std::string("\x01\x00\x00\x02\x00\x00", 6)));
}

// Goal: many varied records (raw bytes, extreme integers, every digest
// type) decode to exactly what was encoded, with valid_bytes the whole.
TEST(Journal, RoundTripMany) {
  std::vector<JournalRecord> records = RandomRecords(2000, 1);
  std::string data = EncodeAll(records);
  std::vector<JournalRecord> out;
  uint64_t valid = 0;
  ASSERT_VALISE_OK(DecodeJournal(data, &out, &valid));
  EXPECT_EQ(valid, data.size());
  ASSERT_EQ(out.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(out[i], records[i]) << "record " << i;
  }
  // An empty journal is valid and empty; *out is replaced, not appended to.
  ASSERT_VALISE_OK(DecodeJournal("", &out, &valid));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(valid, 0u);
}

// Goal: a journal cut at every possible byte yields the whole records
// before the cut, and valid_bytes on the last record boundary before it.
TEST(Journal, EveryTruncationIsARecordPrefix) {
  std::vector<JournalRecord> records = {CommitRecord("one", 1),
                                        CommitRecord("dir/two", 1 << 20),
                                        CommitRecord("three", 0)};
  records[0].type = JournalRecord::Type::kBegin;
  records[0].note = std::string(64, 'f');
  std::vector<uint64_t> ends;
  std::string data = EncodeAll(records, &ends);
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    std::vector<JournalRecord> out;
    uint64_t valid = 12345;
    Status s =
        DecodeJournal(std::string_view(data).substr(0, cut), &out, &valid);
    ASSERT_TRUE(s.ok()) << "cut at " << cut << ": " << s.ToString();
    ASSERT_EQ(out.size(), whole) << "cut at " << cut;
    EXPECT_EQ(valid, whole ? ends[whole - 1] : 0) << "cut at " << cut;
    for (size_t i = 0; i < whole; ++i) EXPECT_EQ(out[i], records[i]);
  }
}

// Goal: random byte changes are detected: decoding returns exactly the
// records before the first damaged one, never more, never a crash.
TEST(Journal, RandomByteFlipsAreDetected) {
  std::vector<JournalRecord> records = RandomRecords(20, 2);
  std::vector<uint64_t> ends;
  std::string data = EncodeAll(records, &ends);
  std::mt19937_64 rng(3);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bad = data;
    size_t first = bad.size();
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      size_t at = rng() % bad.size();
      bad[at] ^= static_cast<char>(1 + rng() % 255);  // always a change
      first = std::min(first, at);
    }
    size_t damaged = 0;
    while (ends[damaged] <= first) ++damaged;
    std::vector<JournalRecord> out;
    uint64_t valid = 0;
    Status s = DecodeJournal(bad, &out, &valid);
    ASSERT_TRUE(s.ok()) << "iteration " << iter << ": " << s.ToString();
    ASSERT_EQ(out.size(), damaged) << "iteration " << iter;
    EXPECT_EQ(valid, damaged ? ends[damaged - 1] : 0);
    for (size_t i = 0; i < damaged; ++i) ASSERT_EQ(out[i], records[i]);
  }
}

// Goal: arbitrary bytes, alone or after good records, never crash and never
// claim more than they hold.
TEST(Journal, GarbageNeverCrashes) {
  std::string good = EncodeAll(RandomRecords(3, 4));
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    std::string junk = test::RandomBytes(seed % 97, seed);
    for (const std::string& data : {junk, good + junk}) {
      std::vector<JournalRecord> out;
      uint64_t valid = 0;
      Status s = DecodeJournal(data, &out, &valid);
      s.PermitUncheckedError();  // any outcome but a crash is acceptable
      ASSERT_LE(valid, data.size());
      if (data.size() > junk.size()) {
        ASSERT_GE(valid, good.size());
      }
    }
  }
}

// Goal: the usual crash artefacts end the journal silently: a zero-filled
// tail (length 0 would carry a valid CRC, since CRC32C of nothing is 0), a
// length above 1 MiB, a length past the end, a bad CRC.
TEST(Journal, TornTailsStopSilently) {
  std::vector<JournalRecord> records = RandomRecords(3, 6);
  std::string good = EncodeAll(records);
  std::string huge;
  PutLe32(&huge, kMaxJournalPayload + 1);
  PutLe32(&huge, 0);
  huge += std::string(kMaxJournalPayload + 1, 'x');
  std::string past = EncodeJournalRecord(records[0]);
  past[0] = static_cast<char>(past[0] + 1);  // one byte longer than present
  std::string bad_crc = EncodeJournalRecord(records[0]);
  bad_crc[5] ^= 0x10;
  for (const std::string& tail : {std::string(4096, '\0'), std::string(8, '\0'),
                                  huge, past, bad_crc, std::string(7, 'x')}) {
    std::vector<JournalRecord> out;
    uint64_t valid = 0;
    ASSERT_VALISE_OK(DecodeJournal(good + tail, &out, &valid));
    EXPECT_EQ(out, records);
    EXPECT_EQ(valid, good.size());
  }
}

// Goal: a record of exactly the 1 MiB payload limit is accepted (the limit
// is inclusive on both sides).
TEST(Journal, MaxPayloadRecordDecodes) {
  JournalRecord r;
  r.type = JournalRecord::Type::kEnd;
  size_t fixed = JournalPayloadSize(r);  // with an empty note
  // The note's length varint grows from 1 to 3 bytes.
  r.note = std::string(kMaxJournalPayload - fixed - 2, 'n');
  ASSERT_EQ(JournalPayloadSize(r), kMaxJournalPayload);
  std::string data = EncodeJournalRecord(r);
  std::vector<JournalRecord> out;
  uint64_t valid = 0;
  ASSERT_VALISE_OK(DecodeJournal(data, &out, &valid));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], r);
  EXPECT_EQ(valid, data.size());
}

// Goal: a CRC-valid record whose payload is impossible is Corruption naming
// its byte offset, with the records before it returned.
TEST(Journal, CrcValidBadPayloadIsCorruption) {
  std::string good = EncodeJournalRecord(CommitRecord("ok", 1));
  std::string offset = "offset " + std::to_string(good.size());
  std::string sha(33, '\x11');
  sha[0] = 32;  // digest length byte, right for sha256
  struct Case {
    const char* name;
    std::string payload;
  } cases[] = {
      {"type 0", std::string("\x00\x00\x00\x00\x00\x00", 6)},
      {"type 4", std::string("\x04\x00\x00\x00\x00\x00", 6)},
      {"type 255", std::string("\xff\x00\x00\x00\x00\x00", 6)},
      {"path past payload", std::string("\x02\x05"
                                        "ab",
                                        4)},
      {"digest type unknown",
       std::string("\x02\x00\x00\x00\x01\x09", 6) + sha + '\0'},
      {"digest length wrong for sha256",
       std::string("\x02\x00\x00\x00\x01\x01\x1f", 7) + std::string(31, 'x') +
           '\0'},
      {"digest length wrong for md5",
       std::string("\x02\x00\x00\x00\x01\x03\x20", 7) + std::string(32, 'x') +
           '\0'},
      {"digest count past payload",
       std::string("\x02\x00\x00\x00\xff\xff\xff\xff\x0f", 9)},
      {"two digests, room for one",
       std::string("\x02\x00\x00\x00\x02\x01", 6) + sha + '\0'},
      {"note past payload", std::string("\x02\x00\x00\x00\x00\x03"
                                        "a",
                                        7)},
      {"missing note", std::string("\x02\x00\x00\x00\x00", 5)},
      {"identity without ctime",
       std::string("\x02\x00\x00\x00\x00\x00\x00", 7)},
      {"bytes after the identity",
       std::string("\x02\x00\x00\x00\x00\x00\x00\x00\x00", 9)},
      {"overlong ctime",
       std::string("\x02\x00\x00\x00\x00\x00\x00\x80\x00", 9)},
      {"overlong varint", std::string("\x02\x80\x00\x00\x00\x00\x00", 7)},
      {"varint over 64 bits",
       std::string("\x02\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02\x00\x00"
                   "\x00",
                   15)},
      {"unterminated varint", std::string("\x02\x00\x00\x00\x00\x80", 6)},
      {"type only", std::string("\x02", 1)},
  };
  for (const Case& c : cases) {
    std::vector<JournalRecord> out;
    uint64_t valid = 0;
    Status s = DecodeJournal(good + Frame(c.payload) + good, &out, &valid);
    EXPECT_TRUE(s.IsCorruption()) << c.name << ": " << s.ToString();
    EXPECT_NE(s.message().find(offset), std::string::npos)
        << c.name << ": " << s.ToString();
    ASSERT_EQ(out.size(), 1u) << c.name;
    EXPECT_EQ(out[0], CommitRecord("ok", 1));
    EXPECT_EQ(valid, good.size()) << c.name;
  }
  // The same bytes with a wrong CRC are just a torn tail.
  std::string torn = Frame(cases[0].payload);
  torn[4] ^= 1;
  std::vector<JournalRecord> out;
  uint64_t valid = 0;
  ASSERT_VALISE_OK(DecodeJournal(good + torn, &out, &valid));
  EXPECT_EQ(valid, good.size());
}

// Goal: Commit writes the group at the offset, syncs once, advances; the
// file then decodes to the records.
TEST(JournalWriter, CommitWritesAndSyncs) {
  MemFile file;
  JournalWriter w(&file, 0);
  std::vector<JournalRecord> records = RandomRecords(5, 8);
  for (const JournalRecord& r : records) w.Add(r);
  EXPECT_EQ(w.pending(), 5u);
  EXPECT_TRUE(file.data.empty());  // nothing before Commit
  ASSERT_VALISE_OK(w.Commit());
  EXPECT_EQ(w.pending(), 0u);
  EXPECT_EQ(file.syncs, 1);
  EXPECT_EQ(file.writes.size(), 1u);  // one write for the whole group
  EXPECT_EQ(file.durable, EncodeAll(records));
  EXPECT_EQ(w.offset(), file.durable.size());

  // A second group follows the first; an empty Commit does no I/O.
  std::vector<JournalRecord> more = RandomRecords(3, 9);
  for (const JournalRecord& r : more) w.Add(r);
  ASSERT_VALISE_OK(w.Commit());
  ASSERT_VALISE_OK(w.Commit());
  EXPECT_EQ(file.syncs, 2);
  std::vector<JournalRecord> out;
  uint64_t valid = 0;
  ASSERT_VALISE_OK(DecodeJournal(file.durable, &out, &valid));
  records.insert(records.end(), more.begin(), more.end());
  EXPECT_EQ(out, records);
  EXPECT_EQ(valid, file.durable.size());
  EXPECT_EQ(w.offset(), valid);
}

// Goal: Write puts the group in the file and advances without syncing (the
// caller syncs the file system); a Commit after it syncs only its own group.
TEST(JournalWriter, WriteLeavesTheSyncToTheCaller) {
  MemFile file;
  JournalWriter w(&file, 0);
  std::vector<JournalRecord> records = RandomRecords(4, 13);
  for (const JournalRecord& r : records) w.Add(r);
  ASSERT_VALISE_OK(w.Write());
  EXPECT_EQ(file.syncs, 0);
  EXPECT_EQ(w.pending(), 0u);
  EXPECT_EQ(file.data, EncodeAll(records));
  EXPECT_TRUE(file.durable.empty());
  EXPECT_EQ(w.offset(), file.data.size());
  ASSERT_VALISE_OK(w.Write());  // nothing pending: no I/O
  EXPECT_EQ(file.writes.size(), 1u);

  std::vector<JournalRecord> more = RandomRecords(2, 14);
  for (const JournalRecord& r : more) w.Add(r);
  ASSERT_VALISE_OK(w.Commit());
  EXPECT_EQ(file.syncs, 1);
  records.insert(records.end(), more.begin(), more.end());
  EXPECT_EQ(file.durable, EncodeAll(records));
  EXPECT_EQ(w.offset(), file.durable.size());
}

// Goal: resuming after a crash drops the torn tail: new records follow the
// last good one, even on a file opened with O_APPEND semantics.
TEST(JournalWriter, ResumeReplacesTornTail) {
  for (bool append_mode : {false, true}) {
    std::vector<JournalRecord> records = RandomRecords(4, 10);
    std::string good = EncodeAll(records);
    std::string torn = EncodeJournalRecord(records[0]).substr(0, 11);
    MemFile file(good + torn);
    file.append_mode = append_mode;
    std::vector<JournalRecord> out;
    uint64_t valid = 0;
    ASSERT_VALISE_OK(DecodeJournal(file.data, &out, &valid));
    ASSERT_EQ(valid, good.size());
    JournalWriter w(&file, valid);
    JournalRecord next = CommitRecord("next", 5);
    w.Add(next);
    ASSERT_VALISE_OK(w.Commit());
    EXPECT_EQ(file.durable, good + EncodeJournalRecord(next))
        << "append_mode " << append_mode;
    ASSERT_VALISE_OK(DecodeJournal(file.durable, &out, &valid));
    records.push_back(next);
    EXPECT_EQ(out, records);
  }
}

// Goal: when fdatasync fails, nothing advances, and the retry writes the
// same bytes at the same offset again (re-syncing alone would lose them:
// MemFile drops the unsynced data on a failed sync).
TEST(JournalWriter, SyncFailureRetriesSameBytes) {
  std::string prefix = EncodeAll(RandomRecords(2, 11));
  MemFile file(prefix);
  JournalWriter w(&file, prefix.size());
  std::vector<JournalRecord> group = RandomRecords(3, 12);
  for (const JournalRecord& r : group) w.Add(r);

  file.fail_sync = true;
  Status s = w.Commit();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("fdatasync"), std::string::npos);
  EXPECT_EQ(w.offset(), prefix.size());
  EXPECT_EQ(w.pending(), 3u);
  EXPECT_EQ(file.durable, prefix);

  // A second failure changes nothing either.
  EXPECT_FALSE(w.Commit().ok());
  EXPECT_EQ(w.offset(), prefix.size());
  EXPECT_EQ(w.pending(), 3u);

  file.fail_sync = false;
  ASSERT_VALISE_OK(w.Commit());
  ASSERT_EQ(file.writes.size(), 3u);
  EXPECT_EQ(file.writes[0].offset, prefix.size());
  EXPECT_EQ(file.writes[2].offset, file.writes[0].offset);
  EXPECT_EQ(file.writes[2].bytes, file.writes[0].bytes);
  EXPECT_EQ(file.writes[2].bytes, EncodeAll(group));
  EXPECT_EQ(file.durable, prefix + EncodeAll(group));
  EXPECT_EQ(w.offset(), file.durable.size());
  EXPECT_EQ(w.pending(), 0u);
}

// Goal: a write that fails halfway leaves the offset alone, and the retry
// replaces the partial bytes (truncating them first), even with O_APPEND
// semantics; a failing truncate is reported and retried too.
TEST(JournalWriter, WriteFailureRetriesCleanly) {
  for (bool append_mode : {false, true}) {
    MemFile file;
    file.append_mode = append_mode;
    JournalWriter w(&file, 0);
    JournalRecord a = CommitRecord("a", 1);
    w.Add(a);
    ASSERT_VALISE_OK(w.Commit());
    uint64_t after_a = w.offset();

    JournalRecord b = CommitRecord("b", 2);
    w.Add(b);
    file.fail_write = true;
    Status s = w.Commit();
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_EQ(w.offset(), after_a);
    EXPECT_EQ(w.pending(), 1u);
    EXPECT_GT(file.data.size(), after_a);  // the partial bytes are there

    file.fail_write = false;
    file.fail_truncate = true;
    EXPECT_FALSE(w.Commit().ok());
    EXPECT_EQ(w.offset(), after_a);

    file.fail_truncate = false;
    ASSERT_VALISE_OK(w.Commit());
    EXPECT_EQ(file.data, EncodeJournalRecord(a) + EncodeJournalRecord(b))
        << "append_mode " << append_mode;
    EXPECT_EQ(file.durable, file.data);
    EXPECT_EQ(w.offset(), file.data.size());
  }
}

// Goal: the writer truncates only before its first write and after a
// failure, not on every group commit.
TEST(JournalWriter, TruncatesOnlyWhenNeeded) {
  MemFile file;
  JournalWriter w(&file, 0);
  for (int i = 0; i < 5; ++i) {
    w.Add(CommitRecord("f" + std::to_string(i), i));
    ASSERT_VALISE_OK(w.Commit());
  }
  EXPECT_EQ(file.truncates, 1);
  EXPECT_EQ(file.syncs, 5);
}

// Goal: a record too large to journal is refused at Add, reported by the
// next Commit (which writes nothing), and the other records still commit.
TEST(JournalWriter, OversizedRecordIsReported) {
  MemFile file;
  JournalWriter w(&file, 0);
  JournalRecord small = CommitRecord("small", 1);
  JournalRecord big = CommitRecord("big", 2);
  big.note = std::string(kMaxJournalPayload, 'x');
  w.Add(small);
  w.Add(big);
  EXPECT_EQ(w.pending(), 1u);
  Status s = w.Commit();
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("big"), std::string::npos) << s.ToString();
  EXPECT_TRUE(file.writes.empty());
  ASSERT_VALISE_OK(w.Commit());
  EXPECT_EQ(file.durable, EncodeJournalRecord(small));
}

}  // namespace
}  // namespace valise
