// valise pack from plan to sealed shipment, new or resumed: see RunPackJob
// in include/valise/pack_state.h.
//
//   state?   M.pack there: resume (the plan it began with, checked against
//            the dataset and the drives' markers); else plan anew and
//            create the state
//   write    WritePack from the journal's last checkpoint, each checkpoint
//            journaled; "complete" once every stripe is durable (a journal
//            already complete skips this: a crash came while sealing)
//   seal     PackState::Finish: sidecars into place, M.layout and M.drives
//            (the drives identified before anything was written), M last,
//            state removed
#include <memory>

#include "valise/pack_state.h"

namespace valise {

namespace {

// The parity files' SHA-256 the journal holds, into the plan's layout.
void ApplySegments(const PackResume& r, PackPlan* plan) {
  for (size_t j = 0; j < r.segments.size(); ++j) {
    for (size_t g = 0; g < r.segments[j].size(); ++g) {
      if (r.segments[j][g]) {
        plan->layout.parity[j].segments[g].sha256 = *r.segments[j][g];
      }
    }
  }
}

}  // namespace

Status RunPackJob(FileSystem* fs, const std::vector<std::string>& datasets,
                  const std::vector<std::string>& drives,
                  const std::string& manifest_path, PackOptions opt,
                  std::string_view created, PackJobResult* out) {
  *out = PackJobResult();
  std::unique_ptr<PackState> state;
  Status s = PackState::Open(fs, manifest_path, &state);
  if (!s.ok() && !s.IsNotFound()) return s;
  FileInfo existing;
  if (fs->Stat(manifest_path, &existing).ok() &&
      (state == nullptr || !state->complete())) {
    return Status::InvalidArgument(
        manifest_path, "exists; valise pack does not overwrite a manifest");
  }
  // Which drive each is, before anything is written (a drive given twice
  // is refused now).
  std::vector<DriveIdentity> ids(drives.size());
  auto identify = [&] {
    return opt.prober == nullptr ? Status::OK()
                                 : IdentifySources(opt.prober, drives, &ids);
  };
  PackResume resume;
  if (state != nullptr) {
    opt.digests = state->digests();
    opt.chunk_size = state->layout().chunk_size;
    VALISE_RETURN_IF_ERROR(
        PlanResume(fs, datasets, drives, state->layout(), opt, &out->plan));
    VALISE_RETURN_IF_ERROR(state->CheckDrives(fs, drives));
    VALISE_RETURN_IF_ERROR(identify());
    VALISE_RETURN_IF_ERROR(state->Resume(out->plan, &resume));
    out->resumed = true;
    out->resumed_at = resume.stripes_done;
  } else {
    VALISE_RETURN_IF_ERROR(
        PlanPack(fs, datasets, drives, opt, true, &out->plan));
    VALISE_RETURN_IF_ERROR(identify());
    VALISE_RETURN_IF_ERROR(
        PackState::Create(fs, manifest_path, out->plan, opt, &state));
  }
  if (state->complete()) {
    ApplySegments(resume, &out->plan);
    VALISE_RETURN_IF_ERROR(
        ManifestFromResume(out->plan, resume, opt.digests, &out->manifest));
  } else {
    opt.checkpoint = [&](const PackCheckpoint& c) { return state->Append(c); };
    VALISE_RETURN_IF_ERROR(
        WritePack(fs, &out->plan, opt, out->resumed ? &resume : nullptr,
                  state->chunk_index(), state->parity_digests(), &out->manifest,
                  &out->summary));
    VALISE_RETURN_IF_ERROR(state->MarkComplete());
  }
  VALISE_RETURN_IF_ERROR(DescribePackDrives(out->plan, out->manifest, ids,
                                            &out->drives, opt.drive_sources));
  return state->Finish(fs, manifest_path, out->plan, out->drives, created,
                       &out->manifest);
}

}  // namespace valise
