// Reed-Solomon parity over the stripes of a packed shipment: k data chunks
// and m parity chunks of equal length, any k of the k+m enough to give back
// the others. The arithmetic is ISA-L's (erasure_code.h): a Cauchy
// generator matrix (gf_gen_cauchy1_matrix), encode and decode through
// ec_init_tables + ec_encode_data; src/pack/parity.cc explains the choice.
//
//   ParityCode     the code of one shipment (k, m): encodes a stripe, and
//                  says which members can be rebuilt from which.
//   ParityDecoder  rebuilds erased members of a stripe; keeps the decode
//                  tables of the erasure patterns it has met (a lost drive
//                  is the same pattern for every stripe it held).
//
// Members are numbered 0..k-1 for the data chunks (data drive i holds
// member i), k..k+m-1 for the parity chunks (parity drive j holds member
// k+j).
//
// Thread safety: a const ParityCode may be used from any thread. A
// ParityDecoder is used by one thread at a time (one per thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "valise/status.h"

namespace valise {

// k + m is at most this: a Cauchy matrix over GF(2^8) has every square
// submatrix invertible while rows and columns are distinct field elements.
inline constexpr int kMaxStripeMembers = 255;

class ParityCode {
 public:
  // k >= 1 data members, m >= 0 parity members, k + m <= kMaxStripeMembers;
  // InvalidArgument otherwise.
  static Status Create(int k, int m, std::unique_ptr<ParityCode>* out);

  int k() const { return k_; }
  int m() const { return m_; }
  int members() const { return k_ + m_; }
  // The (k+m) x k generator matrix, row-major; rows 0..k-1 are the
  // identity.
  const std::vector<uint8_t>& matrix() const { return matrix_; }

  // Computes the m parity chunks of one stripe. data[0..k) each point at
  // `len` bytes (a member a drive does not hold is a chunk of zeros: pass
  // a zero buffer); parity[0..m) receive `len` bytes each. REQUIRES: len
  // > 0; no parity buffer overlaps a data buffer.
  void Encode(size_t len, const uint8_t* const* data,
              uint8_t* const* parity) const;

 private:
  ParityCode(int k, int m);
  int k_;
  int m_;
  std::vector<uint8_t> matrix_;
  std::vector<uint8_t> encode_tables_;  // ec_init_tables of the parity rows
};

class ParityDecoder {
 public:
  // `code` is borrowed and must remain live while the decoder is used.
  explicit ParityDecoder(const ParityCode* code) : code_(code) {}

  // Rebuilds members `want` of a stripe from members `sources`.
  // members[0..k+m) point at `len` bytes each; those in `sources` hold the
  // stripe's bytes, those in `want` receive them (the rest are not
  // touched). REQUIRES: `sources` holds exactly k distinct members, none in
  // `want`, every index < k+m (InvalidArgument otherwise, naming what is
  // wrong; nothing is written then).
  Status Rebuild(size_t len, const std::vector<int>& sources,
                 const std::vector<int>& want, uint8_t* const* members);

  // Decode patterns cached so far (for tests).
  size_t cached_patterns() const { return tables_.size(); }

 private:
  // The ec_init_tables of the decode rows for one (sources, want) pair.
  Status Tables(const std::vector<int>& sources, const std::vector<int>& want,
                const std::vector<uint8_t>** tables);

  const ParityCode* code_;
  // Key: the source indexes, then 0xFFFF, then the wanted ones.
  std::map<std::vector<int>, std::vector<uint8_t>> tables_;
};

}  // namespace valise
