// valise status -m M DEST: what of the shipment M has arrived in DEST, what
// is missing and on which drives, what went wrong and where
// (valise/shipment.h). Reads M, its bound M.drives and DEST's state
// (journal, run records), never a drive or a staged file's contents, and
// takes no lock an ingest running into DEST would notice.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "valise/drives.h"
#include "valise/shipment.h"

namespace valise::cli {

int RunStatus(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  Status s;
  if (args.manifest.empty()) {
    s = Status::InvalidArgument("--manifest", "required");
  } else if (args.dest.empty()) {
    s = Status::InvalidArgument("DEST",
                                "required (the destination ingest "
                                "stages into)");
  }
  Manifest manifest;
  ChunkIndex chunks;
  bool have_chunks = false;
  if (s.ok()) s = LoadManifest(fs, args, &manifest, &chunks, &have_chunks);
  ShipmentDrives drives;
  bool have_drives = false;
  if (s.ok()) {
    s = LoadShipmentDrives(fs, args.manifest, manifest, &drives);
    have_drives = s.ok();
    if (s.IsNotFound() && manifest.binding(kDrivesSidecar) == nullptr) {
      s = Status::OK();  // M names no drives: made before M.drives
    }
  }
  ShipmentStatus status;
  if (s.ok()) {
    s = ComputeShipmentStatus(fs, manifest, have_drives ? &drives : nullptr,
                              args.dest, &status);
  }
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  const std::string text =
      args.json
          ? FormatShipmentStatusJson(status, manifest, args.manifest, args.dest)
          : FormatShipmentStatus(status, manifest, args.manifest, args.dest);
  PrintOut(text);
  return status.ExitCode() == 0 ? kExitOk : kExitProblems;
}

}  // namespace valise::cli
