// valise status -m M DEST: what of the shipment M has arrived in DEST, what
// is missing and on which drives, what went wrong and where
// (valise/shipment.h). Reads M, its bound M.drives and DEST's state
// (journal, run records; for s3://BUCKET/PREFIX the journal objects),
// never a drive or a staged file's contents, and takes no lock an ingest
// running into DEST would notice.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "valise/drives.h"
#include "valise/rebuild.h"
#include "valise/s3.h"
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
  // A packed shipment's layout: parity counts as a way to complete it.
  std::unique_ptr<PackParity> layout;
  if (s.ok() && have_drives) {
    Status ls = LoadPackParity(fs, args.manifest, manifest, &layout);
    if (!ls.ok()) {
      PrintWarning(ls.message() + ": parity is not counted");
      layout.reset();
    }
  }
  // DEST s3://BUCKET/PREFIX: its journal objects are read through the S3
  // view of the file system (a bucket that is not there is an error, not
  // a shipment of which nothing arrived).
  S3Session s3;
  if (s.ok() && IsS3Url(args.dest)) {
    s = OpenS3Session(args, 16, &s3);
    S3Url url;
    if (s.ok()) s = ParseS3Url(args.dest, &url);
    if (s.ok()) {
      s = s3.client->HeadBucket(url.bucket);
      if (s.IsNotFound()) {
        s = Status::NotFound(args.dest, "no such bucket");
      }
    }
    if (s.ok()) fs = s3.fs.get();
  }
  ShipmentStatus status;
  if (s.ok()) {
    s = ComputeShipmentStatus(fs, manifest, have_drives ? &drives : nullptr,
                              args.dest, &status,
                              layout != nullptr ? &layout->layout : nullptr);
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
