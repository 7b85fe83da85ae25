// Names as other file systems and people compare them, for the BagIt
// warnings of RFC 8493 ("Filename normalization"): two names that differ
// only in Unicode normalization (HFS+ stores "Nu\u0301n\u0303ez" for
// "N\u00fa\u00f1ez") or only in case (FAT, NTFS, APFS by default) are one
// file there, and a bag made there may list both, or list one form while
// the file on this file system has the other. The RFC says to warn and to
// compare names after normalizing both sides; valise does that, with ICU
// (Unicode normalization and full case folding are tables no one should
// copy by hand).
//
// Names are raw bytes: one that is not valid UTF-8 has no normal form and
// is compared as it is.
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "valise/bagit.h"

namespace valise {

namespace {

// UTF-8 -> UTF-16; false if `in` is not valid UTF-8 (or ICU fails).
bool ToUtf16(std::string_view in, std::u16string* out) {
  UErrorCode err = U_ZERO_ERROR;
  int32_t n = 0;
  u_strFromUTF8(nullptr, 0, &n, in.data(), static_cast<int32_t>(in.size()),
                &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return false;
  out->resize(static_cast<size_t>(n));
  err = U_ZERO_ERROR;
  u_strFromUTF8(out->data(), n, nullptr, in.data(),
                static_cast<int32_t>(in.size()), &err);
  return U_SUCCESS(err);
}

bool ToUtf8(const std::u16string& in, std::string* out) {
  UErrorCode err = U_ZERO_ERROR;
  int32_t n = 0;
  u_strToUTF8(nullptr, 0, &n, in.data(), static_cast<int32_t>(in.size()), &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return false;
  out->resize(static_cast<size_t>(n));
  err = U_ZERO_ERROR;
  u_strToUTF8(out->data(), n, nullptr, in.data(),
              static_cast<int32_t>(in.size()), &err);
  return U_SUCCESS(err);
}

bool Nfc(const std::u16string& in, std::u16string* out) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&err);
  if (U_FAILURE(err)) return false;
  int32_t n = unorm2_normalize(nfc, in.data(), static_cast<int32_t>(in.size()),
                               nullptr, 0, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return false;
  out->resize(static_cast<size_t>(n));
  err = U_ZERO_ERROR;
  unorm2_normalize(nfc, in.data(), static_cast<int32_t>(in.size()), out->data(),
                   n, &err);
  return U_SUCCESS(err);
}

bool FoldCase(const std::u16string& in, std::u16string* out) {
  UErrorCode err = U_ZERO_ERROR;
  int32_t n =
      u_strFoldCase(nullptr, 0, in.data(), static_cast<int32_t>(in.size()),
                    U_FOLD_CASE_DEFAULT, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return false;
  out->resize(static_cast<size_t>(n));
  err = U_ZERO_ERROR;
  u_strFoldCase(out->data(), n, in.data(), static_cast<int32_t>(in.size()),
                U_FOLD_CASE_DEFAULT, &err);
  return U_SUCCESS(err);
}

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

std::string NfcName(std::string_view name) {
  if (IsAscii(name)) return std::string(name);  // its own normal form
  std::u16string u, nfc;
  std::string out;
  if (!ToUtf16(name, &u) || !Nfc(u, &nfc) || !ToUtf8(nfc, &out)) {
    return std::string(name);
  }
  return out;
}

std::string FoldedName(std::string_view name) {
  std::u16string u, nfc, folded, again;
  std::string out;
  if (!ToUtf16(name, &u) || !Nfc(u, &nfc) || !FoldCase(nfc, &folded) ||
      !Nfc(folded, &again) || !ToUtf8(again, &out)) {
    return std::string(name);
  }
  return out;
}

bool IsOsMetadataPath(std::string_view path) {
  static constexpr std::array<std::string_view, 10> kNames = {
      ".DS_Store",       ".Spotlight-V100",
      ".Trashes",        ".fseventsd",
      ".TemporaryItems", "Thumbs.db",
      "ehthumbs.db",     "desktop.ini",
      "$RECYCLE.BIN",    "System Volume Information"};
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view comp = path.substr(start, slash - start);
    if (comp.size() > 2 && comp.substr(0, 2) == "._")
      return true;  // AppleDouble
    for (std::string_view n : kNames) {
      // Windows names are compared without regard to ASCII case.
      if (comp.size() == n.size() &&
          std::equal(comp.begin(), comp.end(), n.begin(), [](char a, char b) {
            return AsciiLower(a) == AsciiLower(b);
          })) {
        return true;
      }
    }
    start = slash + 1;
  }
  return false;
}

}  // namespace valise
