// The committer's policy against a destination that only records what it
// is asked (no disk): whatever the destination, a file is named only once
// sealed and verified, recorded only once named, and reported ok only once
// its name and record are durable (after Sync, or pipelined after a seal
// that started after them); a file that failed is discarded, never named.
// This is the core's half of include/valise/destination.h's contract, the
// half a new destination (S3) relies on.
#include "pipeline/committer.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/duplicates.h"
#include "pipeline/ingest_ledger.h"
#include "support/pipeline_util.h"
#include "support/test_util.h"

namespace valise {
namespace {

class FakeStaged final : public StagedFile {
 public:
  explicit FakeStaged(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
};

// Logs every call with a sequence number; answers OK.
class RecordingDestination final : public Destination {
 public:
  explicit RecordingDestination(bool pipelined) : pipelined_(pipelined) {}

  struct Event {
    std::string op;    // seal-begin, seal-end, name, record, sync, discard
    std::string name;  // the file (empty for seals and sync)
  };

  std::vector<Event> events() {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }

  const std::string& where() const override { return where_; }
  Status Open(DestInfo* info) override {
    info->seal_covers_names = pipelined_;
    info->clone = true;
    return Status::OK();
  }
  Status Resume(const std::string&, std::vector<JournalRecord>*,
                std::vector<std::string>*) override {
    return Status::OK();
  }
  Status Stat(const std::string& name, FileInfo*) override {
    return Status::NotFound(name);
  }
  std::string ReadPath(const std::string& name) const override { return name; }
  StageWriter* writer() override { return nullptr; }
  Status Stage(const StageRequest& req,
               std::unique_ptr<StagedFile>* out) override {
    *out = std::make_unique<FakeStaged>(req.name);
    return Status::OK();
  }
  Status Finish(StagedFile*) override { return Status::OK(); }
  Status Seal(const std::vector<StagedFile*>& files,
              std::vector<Status>* each) override {
    Log("seal-begin", "");
    for (StagedFile* f : files) Log("sealed", f->name());
    each->assign(files.size(), Status::OK());
    Log("seal-end", "");
    return Status::OK();
  }
  void Name(const std::vector<StagedFile*>& files,
            std::vector<Status>* each) override {
    for (StagedFile* f : files) Log("name", f->name());
    each->assign(files.size(), Status::OK());
  }
  Status Record(const std::vector<JournalRecord>& records) override {
    for (const JournalRecord& r : records) Log("record", r.path);
    return Status::OK();
  }
  Status Sync() override {
    Log("sync", "");
    return Status::OK();
  }
  Status Duplicate(const std::string&, const StageRequest& req, DuplicateKind,
                   std::unique_ptr<StagedFile>* out) override {
    *out = std::make_unique<FakeStaged>(req.name);
    return Status::OK();
  }
  void Adopt(const std::string& name,
             std::unique_ptr<StagedFile>* out) override {
    *out = std::make_unique<FakeStaged>(name);
  }
  void Discard(std::unique_ptr<StagedFile> f) override {
    if (f) Log("discard", f->name());
  }
  void CleanUp() override {}
  Status Close(const std::string&) override { return Status::OK(); }

 private:
  void Log(const std::string& op, const std::string& name) {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back({op, name});
  }
  const bool pipelined_;
  const std::string where_ = "recording";
  std::mutex mu_;
  std::vector<Event> events_;
};

Digest Sha(uint8_t fill) {
  Digest d;
  d.type = DigestType::kSha256;
  d.size = 32;
  std::fill(d.bytes.begin(), d.bytes.begin() + 32, fill);
  return d;
}

// Index of the first event (op, name) at or after `from`; -1 if none.
int Find(const std::vector<RecordingDestination::Event>& ev,
         const std::string& op, const std::string& name, int from = 0) {
  for (int i = std::max(from, 0); i < static_cast<int>(ev.size()); ++i) {
    if (ev[i].op == op && ev[i].name == name) return i;
  }
  return -1;
}

// Checks every entry reported committed against the log: sealed, then
// named, then recorded, then made durable (a seal begun after the record
// that has ended, or a sync after it); and entry `bad` never named.
void ExpectCommittedInOrder(const IngestLedger& l,
                            const std::vector<RecordingDestination::Event>& ev,
                            bool pipelined, size_t bad) {
  for (size_t e = 0; e < l.m.size(); ++e) {
    const std::string name(l.m.path(e));
    if (e == bad) {
      EXPECT_EQ(Find(ev, "name", name), -1) << name << " failed: not named";
      continue;
    }
    if (l.state[e] != EntryState::kCommitted) continue;
    const int sealed = Find(ev, "sealed", name);
    const int named = Find(ev, "name", name);
    const int recorded = Find(ev, "record", name);
    ASSERT_GE(sealed, 0) << name;
    ASSERT_GT(named, sealed) << name << " named before it was sealed";
    ASSERT_GT(recorded, named) << name << " recorded before it was named";
    if (pipelined) {
      const int seal = Find(ev, "seal-begin", "", recorded);
      ASSERT_GE(seal, 0) << name << " reported ok with no seal after it";
      EXPECT_GE(Find(ev, "seal-end", "", seal), 0) << name;
    } else {
      EXPECT_GE(Find(ev, "sync", "", recorded), 0)
          << name << " reported ok before its record was synced";
    }
  }
}

class CommitterTest : public testing::TestWithParam<bool> {};

// Goal: the commit order holds for both kinds of destination, batch after
// batch, and a file whose digest does not match is never named.
TEST_P(CommitterTest, NamesOnlySealedRecordsOnlyNamedReportsOnlyDurable) {
  const bool pipelined = GetParam();
  DigestSet sha;
  sha.Add(DigestType::kSha256);
  Manifest m(sha);
  constexpr size_t kFiles = 7;
  for (size_t i = 0; i < kFiles; ++i) {
    m.Add("f" + std::to_string(i), 10 + i, 0, {Sha(static_cast<uint8_t>(i))});
  }
  ASSERT_VALISE_OK(m.Finish());
  RunReport report;
  IngestLedger l(nullptr, m, PipelineOptions(), IngestOptions(), &report);
  l.digests = sha;
  l.match.first.assign(kFiles + 1, 0);
  l.candidates.resize(kFiles);
  l.dest_drive = 1;
  RecordingDestination dest(pipelined);
  DestInfo info;
  ASSERT_VALISE_OK(dest.Open(&info));
  DuplicatePlacer placer(&dest, info.seal_covers_names, &l);
  Committer committer(&dest, info, &placer, &l);

  const size_t bad = 3;  // its digest does not match
  for (size_t first = 0; first < kFiles; first += 3) {
    std::vector<Finished> batch;
    for (size_t e = first; e < std::min(first + 3, kFiles); ++e) {
      Finished f;
      f.entry = e;
      f.outcome.digests = {Sha(static_cast<uint8_t>(e == bad ? 99 : e))};
      f.outcome.bytes_read = m.file_size(e);
      f.outcome.written = true;
      StageRequest req;
      req.name = std::string(m.path(e));
      ASSERT_VALISE_OK(dest.Stage(req, &f.outcome.staged));
      batch.push_back(std::move(f));
    }
    ASSERT_VALISE_OK(committer.Commit(&batch));
    ExpectCommittedInOrder(l, dest.events(), pipelined, bad);
    // In turn, a batch is committed when Commit returns. Pipelined, it is
    // sealed by this Commit, named during the next one's seal, and durable
    // after the seal of the one after that.
    const size_t through = pipelined ? (first >= 6 ? first - 6 + 3 : 0)
                                     : std::min(first + 3, kFiles);
    size_t committed = 0;
    for (size_t e = 0; e < kFiles; ++e) {
      committed += l.state[e] == EntryState::kCommitted;
    }
    EXPECT_EQ(committed, through - (bad < through ? 1 : 0))
        << "after the batch from f" << first;
  }
  ASSERT_VALISE_OK(committer.Flush());
  EXPECT_FALSE(committer.Owed());
  ExpectCommittedInOrder(l, dest.events(), pipelined, bad);
  for (size_t e = 0; e < kFiles; ++e) {
    EXPECT_EQ(l.state[e] == EntryState::kCommitted, e != bad) << e;
  }
  EXPECT_NE(Find(dest.events(), "discard", "f3"), -1) << "f3 discarded";
  ASSERT_EQ(report.files.size(), 1u) << "the bad copy is reported";
  EXPECT_EQ(report.files[0].path, "f3");
  EXPECT_EQ(l.attempt[bad], 1u) << "its next copy is read next pass";
}

INSTANTIATE_TEST_SUITE_P(Order, CommitterTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& p) {
                           return p.param ? "Pipelined" : "InTurn";
                         });

}  // namespace
}  // namespace valise

namespace valise {
namespace {

// Goal: the seal thread runs each task on one thread kept for its life
// (not a thread per task), Wait returns only once the task has returned,
// and a TaskThread never started makes no thread.
TEST(TaskThread, RunsEachTaskOnOneThreadAndWaitsForIt) {
  TaskThread never;  // destroyed without a task: nothing to join
  TaskThread t;
  std::vector<std::thread::id> ran;
  int done = 0;
  for (int i = 0; i < 50; ++i) {
    t.Start([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      ran.push_back(std::this_thread::get_id());
      ++done;
    });
    t.Wait();
    ASSERT_EQ(done, i + 1);
  }
  ASSERT_EQ(ran.size(), 50u);
  EXPECT_NE(ran[0], std::this_thread::get_id());
  for (const std::thread::id& id : ran) EXPECT_EQ(id, ran[0]);
}

}  // namespace
}  // namespace valise
