// Parity as a way to complete a packed shipment, for `valise status`
// (ComputeShipmentStatus, valise/shipment.h).
//
// What a rebuild needs at the datacenter. ingest rebuilds a chunk of a
// lost data drive from the other members of its stripe, read from the
// drives given in that run (src/pipeline/parity_source.cc): the files of a
// drive already staged in DEST are not stripe members (a staged file is
// only ever read back to be verified, never to rebuild another drive's
// chunk). So a data drive D that has not arrived is "covered by parity"
// only if the drives already at the datacenter (those some ingest of DEST
// has read, by their M.drives label in the run records), together with
// the drives that are needed anyway, hold enough members of every stripe
// of D's missing files, and then they must be plugged in together, in one
// ingest run.
//
// The arithmetic. Stripe s loses a data member for each data drive not
// given that holds a chunk at s (a drive of fewer chunks contributes known
// zeros), and one for each parity drive not given; it can be rebuilt while
// it loses at most M. The losses of a stripe only shrink as s grows (the
// drives are filled from stripe 0), so the first stripe of the missing
// files decides.
//
// The plan. The drives still to arrive are what the operator waits for,
// so the plan takes as many of them as parity can stand in for: drives
// not yet at the datacenter that hold missing files, most missing bytes
// first, each taken if the stripes of all taken so far can still be
// rebuilt from the drives at hand plus those needed anyway. The drives
// to plug in together are then those needed anyway plus the fewest drives
// at hand that bring every stripe within M losses (data drives first,
// then parity drives). Parity never makes the set smaller when nothing
// has arrived (to rebuild r drives takes K - r data plus r parity drives,
// no fewer than the K data drives themselves): the plan is taken only
// when it covers a drive not yet arrived.
#pragma once

#include "valise/drives.h"
#include "valise/manifest.h"
#include "valise/pack.h"
#include "valise/shipment.h"

namespace valise {

// Fills st->covered (drives parity stands in for), st->needed (the drives
// to plug in together) and st->together, when parity covers a drive not
// yet arrived; else leaves st as it is and returns false. Also marks each
// drive's pack role. REQUIRES: st computed from m, drives (same order)
// and DEST, its drives' runs filled; layout is m's (CheckLayoutMatches-
// Manifest passed).
bool PlanParityCover(const PackLayout& layout, const ShipmentDrives& drives,
                     const Manifest& m, ShipmentStatus* st);

}  // namespace valise
