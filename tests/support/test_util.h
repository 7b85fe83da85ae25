// Test helpers: status assertions and scratch directories.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "valise/status.h"

#define ASSERT_VALISE_OK(expr)             \
  do {                                     \
    ::valise::Status _s = (expr);          \
    ASSERT_TRUE(_s.ok()) << _s.ToString(); \
  } while (0)
#define EXPECT_VALISE_OK(expr)             \
  do {                                     \
    ::valise::Status _s = (expr);          \
    EXPECT_TRUE(_s.ok()) << _s.ToString(); \
  } while (0)

namespace valise::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the object is destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes a file below the directory, creating parents.
  void Write(const std::string& rel, const std::string& data) const;

 private:
  std::string path_;
};

// Deterministic pseudo-random bytes.
std::string RandomBytes(size_t n, uint64_t seed);

}  // namespace valise::test
