// libFuzzer target for the ingest journal reader.
//
// DecodeJournal must survive any bytes (a journal is read back after
// crashes, and DEST may be a disk that lies). Each input is tried twice:
//  1. as a journal file, as it is. Random bytes almost never carry a valid
//     CRC32C, so this mostly exercises the framing (torn tails, lengths);
//  2. as a list of payloads (u16 LE length, then that many bytes; a zero
//     length is skipped) that this target frames with their true length and
//     CRC, so the payload decoder behind the CRC check gets fuzzed too.
// Beyond not crashing, both check the properties resume relies on:
//  - valid_bytes never exceeds the input, and the status is OK or
//    Corruption;
//  - the encoding is canonical: re-encoding the decoded records reproduces
//    exactly the first valid_bytes of the input, so a record cannot be read
//    two ways;
//  - decoding that re-encoding gives the same records, OK, and covers it
//    all.
// and, for 2, that every CRC-valid frame before the first undecodable one
// is returned (Corruption if and only if some payload did not decode).
#include <isa-l/crc.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "valise/journal.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "journal_fuzz: %s\n", what);
  abort();
}

void PutLe32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}

// Decodes `input` and checks the properties above; returns the decoded
// record count and whether decoding reported Corruption.
size_t CheckDecode(std::string_view input, bool* corrupt) {
  std::vector<valise::JournalRecord> records;
  uint64_t valid = 0;
  valise::Status s = valise::DecodeJournal(input, &records, &valid);
  if (!s.ok() && !s.IsCorruption()) Fail("DecodeJournal: unexpected code");
  *corrupt = s.IsCorruption();
  if (valid > input.size()) Fail("valid_bytes beyond the input");

  std::string encoded;
  for (const valise::JournalRecord& r : records) {
    encoded += valise::EncodeJournalRecord(r);
  }
  if (encoded != input.substr(0, valid)) {
    Fail("re-encoding differs from the valid prefix");
  }

  std::vector<valise::JournalRecord> again;
  uint64_t again_valid = 0;
  valise::Status s2 = valise::DecodeJournal(encoded, &again, &again_valid);
  if (!s2.ok()) Fail("re-encoded records do not decode");
  if (again_valid != encoded.size()) Fail("re-encoding not wholly valid");
  if (again != records) Fail("re-decoded records differ");
  return records.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  bool corrupt = false;
  CheckDecode(input, &corrupt);

  // Mode 2: frame each payload with its real CRC32C (seed ~0, final ~).
  std::string framed;
  size_t frames = 0;
  size_t pos = 0;
  while (size - pos >= 2) {
    size_t n = data[pos] | static_cast<size_t>(data[pos + 1]) << 8;
    pos += 2;
    if (n > size - pos) n = size - pos;
    if (n == 0) continue;
    std::string payload(input.substr(pos, n));
    pos += n;
    uint32_t crc = crc32_iscsi(reinterpret_cast<unsigned char*>(payload.data()),
                               static_cast<int>(n), 0xFFFFFFFFu) ^
                   0xFFFFFFFFu;
    PutLe32(&framed, static_cast<uint32_t>(n));
    PutLe32(&framed, crc);
    framed += payload;
    ++frames;
  }
  size_t decoded = CheckDecode(framed, &corrupt);
  if (corrupt ? decoded >= frames : decoded != frames) {
    Fail("CRC-valid frames not all decoded, yet no Corruption");
  }
  return 0;
}
