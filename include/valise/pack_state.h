// The state of a pack in progress, so that one cut short (a crash, a
// signal, an error) resumes where its last checkpoint left it: the
// directory "M.pack" beside the manifest M, and a marker on every drive.
//
//   M.pack/layout    the plan (M.layout as planned, parity digests zero)
//   M.pack/chunks    the chunk index, written as the pack goes
//   M.pack/parity    M.parity, likewise
//   M.pack/journal   one line per fact, appended at each checkpoint:
//                      valise-pack-state 1
//                      id <32 hex>           (on the drives' markers too)
//                      digests sha256,xxh128
//                      file <entry> <mode octal> <mtime ns> <hex>...
//                      segment <parity drive> <index> <sha256 hex>
//                      checkpoint <stripes>
//                      complete
//                    the file and segment lines before a checkpoint line
//                    finished before it; lines after the last checkpoint
//                    line (a checkpoint cut short) are ignored; "complete"
//                    follows the last checkpoint of a pack whose every
//                    stripe is durable.
//   DRIVE/.valise-pack  "valise-pack <id> data|parity <index>": which pack
//                    and which place a drive belongs to, so a resume is
//                    given the same drives in the same order.
//
// A finished pack removes the markers and the directory (Finish).
//
// Thread safety: one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/pack.h"
#include "valise/pack_job.h"
#include "valise/status.h"

namespace valise {

// The name of the marker at the top of every drive of a pack in progress.
inline constexpr std::string_view kPackMarker = ".valise-pack";

class PackState {
 public:
  ~PackState();

  // "M.pack".
  static std::string DirFor(const std::string& manifest);

  // Starts the state of a new pack of `plan`: the directory (which must not
  // exist), its layout, an empty chunk index and parity digest file, the
  // journal's head, and the markers on the drives (durable before this
  // returns).
  static Status Create(FileSystem* fs, const std::string& manifest,
                       const PackPlan& plan, const PackOptions& opt,
                       std::unique_ptr<PackState>* out);
  // Opens the state an interrupted pack left. NotFound if there is none.
  static Status Open(FileSystem* fs, const std::string& manifest,
                     std::unique_ptr<PackState>* out);

  const PackLayout& layout() const { return layout_; }
  const DigestSet& digests() const { return digests_; }
  const std::string& id() const { return id_; }
  // Whether the journal says every stripe was written and made durable.
  bool complete() const { return complete_; }

  // Checks that each of `drives` (data, then parity) bears this pack's
  // marker for its place. InvalidArgument naming the first that does not.
  // A drive with no marker passes when no checkpoint was journaled and it
  // holds nothing (a Create cut short: it gets its marker now), or when
  // the pack is complete (a Finish cut short removed it).
  Status CheckDrives(FileSystem* fs, const std::vector<std::string>& drives);
  // Where to resume `plan` (a plan of layout()): the journal's last
  // checkpoint, with the files and parity files finished before it.
  Status Resume(const PackPlan& plan, PackResume* out) const;

  // The chunk index and parity digest files (opened without truncating).
  File* chunk_index() const { return chunks_.get(); }
  File* parity_digests() const { return parity_.get(); }

  // Appends a checkpoint's facts and its line, durable before it returns.
  Status Append(const PackCheckpoint& c);
  // Appends "complete".
  Status MarkComplete();

  // Makes the shipment of a complete pack: M.chunks and M.parity moved into
  // place, M.layout written (with the parity files' digests) and M.drives
  // (`drives`), all four bound to `manifest` (whose entries the caller
  // filled), M written with
  // `created` on its "# created" line; then the markers and the state
  // directory removed. Safe to run again after a crash in the middle (what
  // was moved already is taken as it is). plan.layout must hold every
  // parity file's SHA-256.
  Status Finish(FileSystem* fs, const std::string& manifest_path,
                const PackPlan& plan, const ShipmentDrives& drives,
                std::string_view created, Manifest* manifest);

 private:
  PackState() = default;
  Status OpenFiles();
  Status ParseJournal(std::string_view text);
  Status RemoveUnfinished(const std::string& rel);
  Status WriteMarker(FileSystem* fs, const std::string& drive,
                     size_t place) const;

  FileSystem* fs_ = nullptr;
  std::string manifest_;  // M
  std::string dir_;       // M.pack
  std::unique_ptr<Directory> parent_;
  PackLayout layout_;
  DigestSet digests_;
  std::string id_;
  bool complete_ = false;
  bool checkpoints_ = false;  // the journal has a checkpoint line
  // The journal as parsed: up to its last checkpoint.
  uint64_t stripes_done_ = 0;
  std::vector<PackCheckpoint::File> files_;
  std::vector<PackCheckpoint::Segment> segments_;
  std::unique_ptr<File> chunks_, parity_, journal_;
  // The journal up to its last whole checkpoint (or its head): appends go
  // there.
  uint64_t journal_size_ = 0;
};

// What RunPackJob did.
struct PackJobResult {
  bool resumed = false;     // an interrupted pack was taken up again
  uint64_t resumed_at = 0;  // stripes it had written
  PackPlan plan;            // (its layout with the parity files' digests)
  Manifest manifest;        // M as written
  PackSummary summary;      // this run's writing (zero if none was left)
  ShipmentDrives drives;    // M.drives as written
};

// M.drives of a pack (docs/formats.md, "Drives (M.drives)"): every drive
// of plan (data drives, then parity drives, in the order given), with its
// identity `ids[i]` (IdentifySources), the manifest entries it holds (a
// parity drive none) and its place in the layout (pack_role, pack_index).
// Labels as `valise manifest` gives them: the file system's label, else
// the mount point's last component. REQUIRES: m is the pack's manifest.
// `sources`, when given, are what each drive is recorded as (else its
// mount point).
Status DescribePackDrives(const PackPlan& plan, const Manifest& m,
                          const std::vector<DriveIdentity>& ids,
                          ShipmentDrives* out,
                          const std::vector<std::string>& sources = {});

// `valise pack` past its dry run (src/pack/pack_run.cc): with no state
// M.pack, a new pack (PlanPack of empty drives, PackState::Create); with
// one, the interrupted pack resumed (PlanResume, CheckDrives, Resume: the
// same datasets, drives and --parity); then WritePack journaling each
// checkpoint, MarkComplete, Finish with `created` and the drives' M.drives
// (their identities read by opt.prober before anything is written, again
// on a resume; DescribePackDrives). A manifest already at
// `manifest_path` is refused, unless a complete pack's state is still
// beside it (a crash while Finish cleaned up: Finish runs again).
// opt.checkpoint is set here. Any error leaves the state for a rerun.
Status RunPackJob(FileSystem* fs, const std::vector<std::string>& datasets,
                  const std::vector<std::string>& drives,
                  const std::string& manifest_path, PackOptions opt,
                  std::string_view created, PackJobResult* out);

// Builds the manifest of a complete pack from a plan and what the journal
// holds for every file (resume->files complete). Corruption if a file's
// digests are missing.
Status ManifestFromResume(const PackPlan& plan, const PackResume& resume,
                          const DigestSet& digests, Manifest* out);

}  // namespace valise
