// Parity as a way to complete a packed shipment: see shipment_parity.h.
#include "pipeline/shipment_parity.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

namespace valise {

namespace {

constexpr uint64_t kNoStripe = std::numeric_limits<uint64_t>::max();

// The members of stripe s lost when only the drives marked in `data` and
// `parity` are given.
uint32_t LostAt(const PackLayout& l, const std::vector<bool>& data,
                const std::vector<bool>& parity, uint64_t s) {
  uint32_t lost = 0;
  for (uint32_t d = 0; d < l.k(); ++d) lost += !data[d] && l.data[d].chunks > s;
  for (uint32_t j = 0; j < l.m(); ++j) lost += !parity[j];
  return lost;
}

}  // namespace

bool PlanParityCover(const PackLayout& l, const ShipmentDrives& drives,
                     const Manifest& m, ShipmentStatus* st) {
  const uint32_t k = l.k(), mp = l.m();
  // Each layout member's drive in M.drives.
  std::vector<int> data_at(k, -1), parity_at(mp, -1);
  for (size_t i = 0; i < drives.drives.size(); ++i) {
    const ShipmentDrive& d = drives.drives[i];
    st->drives[i].parity = d.pack_role == PackRole::kParity;
    const uint32_t x = d.pack_index - 1;
    if (d.pack_role == PackRole::kData && x < k) data_at[x] = int(i);
    if (d.pack_role == PackRole::kParity && x < mp) parity_at[x] = int(i);
  }
  if (mp == 0 || std::count(data_at.begin(), data_at.end(), -1) +
                         std::count(parity_at.begin(), parity_at.end(), -1) >
                     0) {
    return false;  // no parity, or M.drives predates the pack roles
  }
  // Where each file starts: its drive, its first stripe.
  std::unordered_map<std::string_view, std::pair<uint32_t, uint64_t>> where;
  for (uint32_t d = 0; d < k; ++d) {
    uint64_t c = 0;
    for (const PackFile& f : l.data[d].files) {
      where[f.path] = {d, c};
      c += PackChunksOf(f.size, l.chunk_size);
    }
  }
  std::vector<bool> has_missing(k, false);
  std::vector<uint64_t> first(k, kNoStripe), missing_bytes(k, 0);
  for (uint64_t e : st->missing) {
    auto it = where.find(m.path(e));
    if (it == where.end()) return false;
    const auto [d, stripe] = it->second;
    has_missing[d] = true;
    missing_bytes[d] += m.file_size(e);
    if (m.file_size(e) > 0) first[d] = std::min(first[d], stripe);
  }
  auto at_hand = [&](int i) { return !st->drives[i].runs.empty(); };

  // The drives parity may stand in for: not yet arrived, holding missing
  // files; most missing bytes first.
  std::vector<uint32_t> candidates;
  for (uint32_t d = 0; d < k; ++d) {
    if (has_missing[d] && !at_hand(data_at[d])) candidates.push_back(d);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](uint32_t a, uint32_t b) {
                     return missing_bytes[a] > missing_bytes[b];
                   });
  // What could be given: the drives at hand and those needed anyway.
  std::vector<bool> pool_data(k), pool_parity(mp), covered(k, false);
  for (uint32_t d = 0; d < k; ++d)
    pool_data[d] = at_hand(data_at[d]) || has_missing[d];
  for (uint32_t j = 0; j < mp; ++j) pool_parity[j] = at_hand(parity_at[j]);
  uint64_t from = kNoStripe;  // the first stripe to rebuild
  for (uint32_t c : candidates) {
    const uint64_t s = std::min(from, first[c]);
    pool_data[c] = false;
    if (s == kNoStripe || LostAt(l, pool_data, pool_parity, s) <= mp) {
      covered[c] = true;
      from = s;
    } else {
      pool_data[c] = true;
    }
  }
  if (std::find(covered.begin(), covered.end(), true) == covered.end()) {
    return false;
  }
  // Together: the drives needed anyway, then the fewest at hand.
  std::vector<bool> give_data(k), give_parity(mp, false);
  for (uint32_t d = 0; d < k; ++d) give_data[d] = has_missing[d] && !covered[d];
  if (from != kNoStripe) {
    while (LostAt(l, give_data, give_parity, from) > mp) {
      bool added = false;
      for (uint32_t d = 0; d < k && !added; ++d) {
        if (!give_data[d] && pool_data[d] && l.data[d].chunks > from) {
          give_data[d] = added = true;
        }
      }
      for (uint32_t j = 0; j < mp && !added; ++j) {
        if (!give_parity[j] && pool_parity[j]) give_parity[j] = added = true;
      }
      if (!added) return false;  // cannot happen: the pool sufficed
    }
  }
  st->needed.clear();
  st->covered.clear();
  for (uint32_t d = 0; d < k; ++d) {
    if (give_data[d]) st->needed.push_back(uint32_t(data_at[d]));
    if (covered[d]) st->covered.push_back(uint32_t(data_at[d]));
  }
  for (uint32_t j = 0; j < mp; ++j) {
    if (give_parity[j]) st->needed.push_back(uint32_t(parity_at[j]));
  }
  st->together = true;
  return true;
}

}  // namespace valise
