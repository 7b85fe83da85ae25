// Reed-Solomon parity for a shipment's stripes.
//
// The problem. A shipment of k data drives loses drives in transit, whole
// (dropped, lost) or in part (an unreadable range, a corrupt chunk). A
// second copy of everything doubles the drives to carry; m parity drives
// computed over stripes (chunk i of every data drive) let any m of the k+m
// members of a stripe be lost and still give every byte back, for an
// overhead of m/k.
//
// The code. Each byte position of a stripe is a vector d of k bytes, read
// as elements of GF(2^8); the m parity bytes are P d, for an m x k matrix
// P. Stacking the identity on P gives the (k+m) x k generator G: member r
// of the stripe is row r of G times d. Any k surviving members s_1..s_k
// give k equations G_S d = y; if G_S (those k rows of G) is invertible, d
// = G_S^-1 y, and a lost member w is G_w G_S^-1 y. So the code is MDS (any
// k members suffice) exactly when every k x k submatrix of G built from k
// of its rows is invertible.
//
// Which matrix. ISA-L offers two generators. gf_gen_rs_matrix is a
// Vandermonde-style matrix with the identity on top; its submatrices are
// not all invertible for every (k, m) (ISA-L's own documentation warns
// that it is only guaranteed for small m), so some loss patterns would not
// decode. gf_gen_cauchy1_matrix puts a Cauchy matrix, a_ij = 1/(i ^ j)
// with i in k..k+m-1 and j in 0..k-1, under the identity; every square
// submatrix of a Cauchy matrix is invertible, and a k x k submatrix of G
// mixing identity rows with Cauchy rows reduces (by eliminating the
// identity rows' columns) to a square submatrix of the Cauchy part, so
// every choice of k members decodes, for any k + m <= 255. valise uses the
// Cauchy matrix; the unit tests decode every loss pattern of small codes to
// check it rather than trust it.
//
// Encoding is one ec_init_tables for the m parity rows (32 bytes of
// lookup tables per coefficient) at construction, then ec_encode_data per
// stripe: ISA-L's SIMD kernels multiply each 32- or 64-byte slice of all k
// sources by the coefficients and accumulate into the m outputs, so every
// source byte is read once.
//
// Decoding a set W of wanted members from a set S of k sources: invert G_S
// (gf_invert_matrix), take row w of the inverse for a data member w < k
// (d_w = (G_S^-1 y)_w) and G_w G_S^-1 for a parity member (recompute it
// from the data), stack those rows into a |W| x k decode matrix, build its
// tables and run ec_encode_data with the sources as inputs. Inverting is
// O(k^3) on a few hundred bytes; a lost drive is the same pattern in every
// stripe it held, so the tables are cached per (S, W) pattern.
//
// Measured by bench/parity_bench on this machine (AVX2; CPU time, the
// machine loaded), 1 MiB chunks, per core: encode 8+2 about 20 GB/s of
// data, 10+4 about 11 GB/s; rebuild of 2 lost members of 8+2 about
// 20 GB/s. The drives, not the arithmetic, bound `valise pack` and a
// rebuild.
#include "valise/parity.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <string>

namespace valise {

namespace {

// A decoder meets few patterns (one per set of lost drives, plus a few for
// stray bad chunks); past this many, the cache starts again.
constexpr size_t kMaxCachedPatterns = 64;

std::string Describe(const std::vector<int>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(v[i]);
  }
  return s + "}";
}

}  // namespace

ParityCode::ParityCode(int k, int m)
    : k_(k),
      m_(m),
      matrix_(static_cast<size_t>((k + m) * k)),
      encode_tables_(static_cast<size_t>(32 * k * std::max(m, 1))) {
  gf_gen_cauchy1_matrix(matrix_.data(), k + m, k);
  if (m > 0) ec_init_tables(k, m, &matrix_[k * k], encode_tables_.data());
}

Status ParityCode::Create(int k, int m, std::unique_ptr<ParityCode>* out) {
  if (k < 1 || m < 0 || k + m > kMaxStripeMembers) {
    return Status::InvalidArgument(
        "parity code",
        std::to_string(k) + " data + " + std::to_string(m) +
            " parity drives: need at least 1 data drive, at most " +
            std::to_string(kMaxStripeMembers) + " drives in all");
  }
  out->reset(new ParityCode(k, m));
  return Status::OK();
}

void ParityCode::Encode(size_t len, const uint8_t* const* data,
                        uint8_t* const* parity) const {
  if (m_ == 0 || len == 0) return;
  // ISA-L's prototypes take non-const pointers but only read the sources
  // and the tables.
  ec_encode_data(static_cast<int>(len), k_, m_,
                 const_cast<uint8_t*>(encode_tables_.data()),
                 const_cast<uint8_t**>(data), const_cast<uint8_t**>(parity));
}

Status ParityDecoder::Tables(const std::vector<int>& sources,
                             const std::vector<int>& want,
                             const std::vector<uint8_t>** tables) {
  std::vector<int> key = sources;
  key.push_back(0xFFFF);
  key.insert(key.end(), want.begin(), want.end());
  auto it = tables_.find(key);
  if (it != tables_.end()) {
    *tables = &it->second;
    return Status::OK();
  }
  const int k = code_->k();
  const std::vector<uint8_t>& g = code_->matrix();
  // G_S: the generator's rows of the sources.
  std::vector<uint8_t> gs(static_cast<size_t>(k * k));
  for (int r = 0; r < k; ++r) {
    std::copy_n(&g[sources[r] * k], k, &gs[r * k]);
  }
  std::vector<uint8_t> inv(static_cast<size_t>(k * k));
  if (gf_invert_matrix(gs.data(), inv.data(), k) != 0) {
    // Cannot happen with a Cauchy generator (see atop this file); refuse
    // rather than decode wrong bytes.
    return Status::Corruption(
        "parity decode", "singular submatrix for sources " + Describe(sources));
  }
  const int rows = static_cast<int>(want.size());
  std::vector<uint8_t> decode(static_cast<size_t>(rows * k));
  for (int r = 0; r < rows; ++r) {
    const int w = want[r];
    if (w < k) {
      std::copy_n(&inv[w * k], k, &decode[r * k]);
      continue;
    }
    // Parity member: G_w times G_S^-1.
    for (int j = 0; j < k; ++j) {
      uint8_t s = 0;
      for (int i = 0; i < k; ++i) s ^= gf_mul(g[w * k + i], inv[i * k + j]);
      decode[r * k + j] = s;
    }
  }
  std::vector<uint8_t> t(static_cast<size_t>(32 * k * rows));
  ec_init_tables(k, rows, decode.data(), t.data());
  if (tables_.size() >= kMaxCachedPatterns) tables_.clear();
  auto [pos, inserted] = tables_.emplace(std::move(key), std::move(t));
  (void)inserted;
  *tables = &pos->second;
  return Status::OK();
}

Status ParityDecoder::Rebuild(size_t len, const std::vector<int>& sources,
                              const std::vector<int>& want,
                              uint8_t* const* members) {
  const int k = code_->k();
  const int n = code_->members();
  if (static_cast<int>(sources.size()) != k) {
    return Status::InvalidArgument(
        "parity decode",
        "need " + std::to_string(k) + " sources, got " + Describe(sources));
  }
  std::vector<bool> seen(static_cast<size_t>(n), false);
  for (int s : sources) {
    if (s < 0 || s >= n || seen[s]) {
      return Status::InvalidArgument("parity decode",
                                     "bad sources " + Describe(sources));
    }
    seen[s] = true;
  }
  for (int w : want) {
    if (w < 0 || w >= n || seen[w]) {
      return Status::InvalidArgument("parity decode",
                                     "bad wanted members " + Describe(want) +
                                         " for sources " + Describe(sources));
    }
    seen[w] = true;
  }
  if (want.empty() || len == 0) return Status::OK();
  const std::vector<uint8_t>* tables = nullptr;
  VALISE_RETURN_IF_ERROR(Tables(sources, want, &tables));
  std::vector<uint8_t*> in(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) in[i] = members[sources[i]];
  std::vector<uint8_t*> out(want.size());
  for (size_t i = 0; i < want.size(); ++i) out[i] = members[want[i]];
  ec_encode_data(static_cast<int>(len), k, static_cast<int>(want.size()),
                 const_cast<uint8_t*>(tables->data()), in.data(), out.data());
  return Status::OK();
}

}  // namespace valise
