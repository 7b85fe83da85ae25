// The S3 destination (src/dest/s3_destination.cc) through the whole
// ingest, on the simulated disk and the fake S3 store: objects whole and
// right with their metadata, duplicates as server-side copies, a key taken
// reported and not overwritten, a missing bucket, and the seeded
// randomized test: the store's faults (resets, 500s, SlowDown, errors in a
// 200, lost answers) and a client killed at a seeded request, then a
// rerun; after each run nothing under a final key is partial or wrong,
// every journal record names a right object, and after the rerun every
// file is there and no multipart upload is left. Half the seeds decide by
// signed chunk digests with one-chunk parts: there a large file the killed
// run left part way is resumed by chunk in the rerun (its kept upload's
// parts not sent again), and parts are copied server-side.
//
// Replay: VALISE_SEED=N runs seed N alone; VALISE_S3_SEEDS=N runs 1..N
// (default 200: ~10 s on the busy 2-core machine).
#include "dest/s3_destination.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "net/s3_test_util.h"
#include "support/chunked_manifest.h"
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/drives.h"
#include "valise/fake_s3.h"
#include "valise/journal.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/s3_file_system.h"
#include "valise/shipment.h"
#include "valise/sidecar.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

using test::PayloadOf;

constexpr size_t kChunk = 64 << 10;

FakeS3Options StoreOptions(uint64_t seed, uint64_t min_part) {
  FakeS3Options o;
  o.seed = seed;
  o.min_part_size = min_part;
  return o;
}

IngestOptions S3Ingest(S3Client* client) {
  IngestOptions io;
  io.s3 = client;
  io.commit_batch = 3;
  io.s3_options.put_max = 100 << 10;
  io.s3_options.put_memory = 1 << 20;
  io.s3_options.part_size = 2 * kChunk;
  io.s3_options.threads = 3;
  io.s3_options.digest_threads = 2;  // parts digested two at a time
  io.s3_options.host = "h1";
  // The fake store's clock starts at 2024-01-01 and runs a second a write:
  // its uploads are young, so only markers make them leftovers.
  io.s3_options.now = [] { return int64_t{1704067200} + 3600; };
  io.s3_options.journal_poll_ms = 0;  // one host: requests as counted
  return io;
}

// A dataset on drive d1 of a simulated disk and its manifest.
struct Dataset {
  explicit Dataset(uint64_t seed = 1, uint64_t min_part = 2 * kChunk)
      : store(StoreOptions(seed, min_part)) {
    disk = std::make_unique<SimDisk>(SimDiskOptions());
    store.CreateBucket("b");
  }
  void Add(const std::string& rel, const std::string& data) {
    disk->AddFile("d1/" + rel, data, 1000 + files.size());
    files[rel] = data;
  }
  // With the signed chunk index (d1/M.chunks, bound), which Ingest then
  // decides by (issue 15).
  Manifest MakeSignedManifest() {
    Manifest m;
    test::MakeChunkedManifest(
        disk.get(), {"d1"}, test::SmallPipelineOptions(kChunk, 1), &m, &index);
    return m;
  }
  Manifest MakeManifest() {
    Manifest m;
    ManifestSummary summary;
    Status s = valise::MakeManifest(disk.get(), {"d1"}, test::ShaXxh(),
                                    test::SmallPipelineOptions(kChunk, 1), &m,
                                    nullptr, &summary);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return m;
  }
  // Through the S3 view of the disk, as the CLI does: a key found under
  // DEST that no record holds is read back through it.
  Status Ingest(const Manifest& m, S3Client* client, RunReport* r) {
    return Ingest(m, S3Ingest(client), r);
  }
  Status Ingest(const Manifest& m, const IngestOptions& io, RunReport* r,
                const std::vector<std::string>& drives = {"d1"}) {
    auto fs = NewS3FileSystem(disk.get(), io.s3, 3);
    PipelineOptions opt = test::SmallPipelineOptions(kChunk, 2);
    opt.chunk_index = index.get();
    opt.chunk_index_signed = index != nullptr;
    IngestOptions with = io;
    if (index) with.s3_options.min_part_size = kChunk;  // one-chunk parts
    return IngestDrives(fs.get(), m, drives, "s3://b/ship", opt, with, r);
  }
  // Journal records of every host, in key order.
  std::vector<JournalRecord> Journal() const {
    std::vector<JournalRecord> out;
    for (const std::string& k : store.Keys("b")) {
      if (k.rfind("ship/.valise/journal/", 0) != 0) continue;
      std::string data;
      EXPECT_TRUE(store.ObjectBytes("b", k, &data));
      std::vector<JournalRecord> got;
      uint64_t valid = 0;
      EXPECT_VALISE_OK(DecodeJournal(data, &got, &valid));
      EXPECT_EQ(valid, data.size()) << k;
      out.insert(out.end(), got.begin(), got.end());
    }
    return out;
  }
  // Every object under ship/ is a manifest file whole and right (or one of
  // `others`, untouched); every commit record names a right object.
  void CheckStore(const std::map<std::string, std::string>& others) const {
    for (const std::string& k : store.Keys("b")) {
      if (k.rfind("ship/.valise/journal/", 0) == 0) continue;
      if (k.rfind("ship/.valise/uploads/", 0) == 0) continue;  // markers
      ASSERT_EQ(k.rfind("ship/", 0), 0u) << k;
      const std::string rel = k.substr(5);
      std::string data;
      ASSERT_TRUE(store.ObjectBytes("b", k, &data));
      auto o = others.find(rel);
      if (o != others.end()) {
        EXPECT_EQ(data, o->second) << "overwritten: " << k;
        continue;
      }
      auto f = files.find(rel);
      ASSERT_NE(f, files.end()) << "an object no file names: " << k;
      EXPECT_TRUE(data == f->second) << "wrong bytes under " << k;
    }
    for (const JournalRecord& r : Journal()) {
      if (r.type != JournalRecord::Type::kCommit) continue;
      std::string data;
      EXPECT_TRUE(store.ObjectBytes("b", "ship/" + r.path, &data))
          << "journaled, absent: " << r.path;
      EXPECT_TRUE(data == files.at(r.path)) << "journaled, wrong: " << r.path;
    }
  }

  std::unique_ptr<SimDisk> disk;
  FakeS3Store store;
  std::map<std::string, std::string> files;
  std::unique_ptr<ChunkIndexV2> index;  // MakeSignedManifest's
};

void AddStandardFiles(Dataset* d) {
  d->Add("small", test::RandomBytes(1000, 1));
  d->Add("empty", "");
  d->Add("dir/two parts", test::RandomBytes(4 * kChunk, 2));
  d->Add("dir/sub/odd+name", test::RandomBytes(5 * kChunk + 7, 3));
  d->Add("dup1", test::RandomBytes(3 * kChunk + 1, 4));
  d->Add("z/dup2", test::RandomBytes(3 * kChunk + 1, 4));
  d->Add("tiny-dup", test::RandomBytes(1000, 1));
}

// Goal: an ingest into s3://b/ship makes one right object per file, small
// ones by PUT and large ones by multipart (none left open), duplicates by
// server-side copy, with the manifest's digests and mtime as metadata and
// journal objects of this host; `verify` of s3://b/ship then finds every
// file ok; a rerun trusts the journal and sends no object again.
TEST(S3Destination, IngestThenVerify) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(r.files_ok, d.files.size());
  d.CheckStore({});
  for (const auto& [rel, data] : d.files) {
    std::string got;
    S3Metadata meta;
    ASSERT_TRUE(d.store.ObjectBytes("b", "ship/" + rel, &got, &meta)) << rel;
    EXPECT_EQ(meta.count("valise-sha256"), 1u) << rel;
    EXPECT_EQ(meta.count("valise-mtime"), 1u) << rel;
  }
  S3Metadata meta;
  std::string got;
  ASSERT_TRUE(d.store.ObjectBytes("b", "ship/small", &got, &meta));
  EXPECT_EQ(meta["valise-sha256"], test::Sha256Of(d.files["small"]).Hex());
  EXPECT_TRUE(d.store.Uploads("b").empty());
  size_t journals = 0;
  for (const std::string& k : d.store.Keys("b")) {
    if (k.rfind("ship/.valise/journal/h1/", 0) == 0) ++journals;
  }
  EXPECT_GE(journals, 2u);  // begin, commits, end

  auto fs = NewS3FileSystem(d.disk.get(), client.get(), 3);
  RunReport v;
  ASSERT_VALISE_OK(VerifyDrives(fs.get(), m, nullptr, {"s3://b/ship"},
                                test::SmallPipelineOptions(kChunk, 1), &v));
  EXPECT_EQ(v.files_ok, d.files.size()) << FormatSummary(v);
  EXPECT_EQ(v.ExitCode(), 0);

  const uint64_t uploaded = client->stats().bytes_uploaded;
  RunReport again;
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &again));
  EXPECT_EQ(again.ExitCode(), 0) << FormatSummary(again);
  EXPECT_EQ(again.files_skipped_resume, d.files.size());
  // Only the journal's begin and end objects were sent.
  EXPECT_LT(client->stats().bytes_uploaded - uploaded, 4096u);
}

// Goal: a part carries the signed payload SHA-256 only, which the store
// checks, not a Content-MD5 too (an MD5 pass over every byte, as costly as
// the SHA-256, for a second check of the same bytes); a single PUT keeps
// its Content-MD5, by which it knows its own object after a lost answer.
TEST(S3Destination, PartsCarryTheSignedSha256Only) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  d.CheckStore({});
  FakeS3Counters c = d.store.counters();
  EXPECT_GT(c.parts, 0u);
  EXPECT_EQ(c.parts_with_md5, 0u);
  EXPECT_GT(c.puts, 0u);
  EXPECT_EQ(c.puts_with_md5, c.puts);
}

// Goal: the report calls a duplicate placed in the store what it is, a
// "server-side copy of" the first path (not "reflink of", a file system's
// word), and so does its dedup note.
TEST(S3Destination, DuplicatesAreReportedAsServerSideCopies) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  std::map<std::string, std::string> details;
  for (const FileResult& f : r.files) details[f.path] = f.detail;
  const std::string copy = details["dup1"] + details["z/dup2"];
  EXPECT_TRUE(copy == "server-side copy of dup1" ||
              copy == "server-side copy of z/dup2")
      << copy;
  const std::string tiny = details["small"] + details["tiny-dup"];
  EXPECT_TRUE(tiny == "server-side copy of small" ||
              tiny == "server-side copy of tiny-dup")
      << tiny;
  // The policy is one of the notes -v shows (and the JSON has).
  EXPECT_NE(std::find(r.verbose_notes.begin(), r.verbose_notes.end(),
                      "dedup: server-side copy"),
            r.verbose_notes.end());
}

// Goal: the plan asks the store about every manifest path with one
// listing of the prefix, not a HEAD per file: 200 small files into an
// empty prefix take about one request each (their PUTs) and a few more,
// where a HEAD each made it over two. A key present (listed) is still
// HEADed and not overwritten, and a rerun still trusts the journal.
TEST(S3Destination, PlanListsThePrefixOnce) {
  Dataset d;
  for (int i = 0; i < 200; ++i) {
    d.Add("many/f" + std::to_string(i), test::RandomBytes(100 + i, 10 + i));
  }
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  S3WriteResult w;
  const std::string other = "other bytes";
  ASSERT_VALISE_OK(
      client->PutObject("b", "ship/many/f7", PayloadOf(other), {}, false, &w));
  const uint64_t before = client->stats().requests;
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &r));
  EXPECT_EQ(r.files_ok, d.files.size() - 1) << FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 1);
  const uint64_t requests = client->stats().requests - before;
  EXPECT_LT(requests, d.files.size() + 120) << requests;
  d.CheckStore({{"many/f7", other}});

  RunReport again;
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &again));
  EXPECT_EQ(again.files_skipped_resume, d.files.size() - 1)
      << FormatSummary(again);
}

// Goal: a key present with other content is reported (corrupt, "not
// overwritten") and keeps its bytes, small (PUT If-None-Match) or large
// (HEAD before Complete); the other files land; exit 1.
TEST(S3Destination, KeyPresentIsNotOverwritten) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  std::map<std::string, std::string> others = {
      {"small", "other small"}, {"dir/two parts", "other large"}};
  S3WriteResult w;
  for (const auto& [rel, data] : others) {
    ASSERT_VALISE_OK(
        client->PutObject("b", "ship/" + rel, PayloadOf(data), {}, false, &w));
  }
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &r));
  EXPECT_EQ(r.ExitCode(), 1);
  size_t refused = 0;
  for (const FileResult& f : r.files) {
    if (others.count(f.path) > 0) {
      EXPECT_NE(f.detail.find("not overwritten"), std::string::npos)
          << f.detail;
      ++refused;
    }
  }
  EXPECT_EQ(refused, 2u) << FormatSummary(r);
  EXPECT_EQ(r.files_ok, d.files.size() - 2);
  d.CheckStore(others);
  EXPECT_TRUE(d.store.Uploads("b").empty());
}

// Goal: a bucket that does not exist stops the ingest before anything is
// read, with an error naming it.
TEST(S3Destination, MissingBucket) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  RunReport r;
  Status s = IngestDrives(d.disk.get(), m, {"d1"}, "s3://nobucket/x",
                          test::SmallPipelineOptions(kChunk, 2),
                          S3Ingest(client.get()), &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("s3://nobucket/x"), std::string::npos)
      << s.ToString();
  EXPECT_NE(s.message().find("no such bucket"), std::string::npos)
      << s.ToString();
}

// Goal: `valise status` of s3://b/ship reads its journal objects (one per
// commit group, under .valise/journal/HOST/) through the S3 view: before
// any ingest nothing has arrived; after one whose two keys were taken
// every other file has and those two are missing; after the keys are
// freed and a rerun places them, the shipment is complete; run records
// saved under the DEST are read back.
TEST(S3Destination, StatusReadsTheJournalObjects) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  auto status = [&] {
    auto fs = NewS3FileSystem(d.disk.get(), client.get(), 3);  // listed anew
    ShipmentStatus st;
    EXPECT_VALISE_OK(
        ComputeShipmentStatus(fs.get(), m, nullptr, "s3://b/ship", &st));
    return st;
  };
  ShipmentStatus st = status();
  EXPECT_EQ(st.files_arrived, 0u);
  EXPECT_EQ(st.missing.size(), m.size());

  S3WriteResult w;
  for (const char* rel : {"small", "dir/two parts"}) {
    ASSERT_VALISE_OK(client->PutObject("b", std::string("ship/") + rel,
                                       PayloadOf("other"), {}, false, &w));
  }
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &r));
  st = status();
  EXPECT_EQ(st.files_arrived, m.size() - 2);
  std::set<std::string> missing;
  for (uint64_t e : st.missing) missing.insert(std::string(m.path(e)));
  EXPECT_EQ(missing, (std::set<std::string>{"dir/two parts", "small"}));

  for (const char* rel : {"small", "dir/two parts"}) {
    ASSERT_VALISE_OK(client->DeleteObject("b", std::string("ship/") + rel));
  }
  ASSERT_VALISE_OK(d.Ingest(m, client.get(), &r));
  st = status();
  EXPECT_EQ(st.files_arrived, m.size());
  EXPECT_TRUE(st.complete());
  EXPECT_TRUE(st.runs.empty());

  // The run records ingest leaves as objects under .valise/runs/ (the
  // CLI writes them through the S3 view): a second one of the same start
  // and host takes the next name, never replacing the first.
  auto fs = NewS3FileSystem(d.disk.get(), client.get(), 3);
  r.started = "2026-12-06T07:59:00Z";
  const RunRecord rec = RunRecordOf(r, "dc-host-1", "2026-12-06T08:00:00Z", {});
  ASSERT_VALISE_OK(SaveRunRecord(fs.get(), "s3://b/ship", rec));
  ASSERT_VALISE_OK(SaveRunRecord(fs.get(), "s3://b/ship", rec));
  st = status();
  ASSERT_EQ(st.runs.size(), 2u);
  EXPECT_EQ(st.runs[0].host, "dc-host-1");

  // valise watch's custody records the same way, one object each under
  // .valise/custody/ (an object cannot be appended to).
  const std::string line = "{\"event\":\"ingested\"}\n";
  for (int i = 0; i < 2; ++i) {
    ASSERT_VALISE_OK(SaveStateRecord(fs.get(), "s3://b/ship", "custody",
                                     "2026-12-06T08:00:00Z", "dock 1", line));
  }
  for (const char* name :
       {"2026-12-06T080000Z-dock_1.json", "2026-12-06T080000Z-dock_1-1.json"}) {
    std::string data;
    ASSERT_VALISE_OK(fs->ReadSmallFile(
        std::string("s3://b/ship/.valise/custody/") + name, &data, 4096));
    EXPECT_EQ(data, line) << name;
  }
}

// Goal (issue 17): several hosts ingest into one prefix at once, so a
// run's start aborts only the uploads no live run can be sending: its own
// host's from an earlier run (marked under .valise/uploads/HOST/) and any
// host's older than --stale-upload-age; another host's younger upload
// survives the whole run (Open and CleanUp), and the notes say what was
// aborted and what was left. Fails without the grace period and markers
// (every upload under the prefix was aborted).
TEST(S3DestinationHosts, OnlyStaleAndOwnUploadsAreAborted) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  std::string old_id, live_id, own_id;
  ASSERT_VALISE_OK(client->CreateMultipartUpload("b", "ship/old", {}, &old_id));
  S3WriteResult w;
  d.store.CreateBucket("c");
  for (int i = 0; i < 60; ++i) {  // a minute of the store's clock
    ASSERT_VALISE_OK(
        client->PutObject("c", "clock", PayloadOf("tick"), {}, false, &w));
  }
  ASSERT_VALISE_OK(
      client->CreateMultipartUpload("b", "ship/live", {}, &live_id));
  // Host h1's own, of an earlier run killed: marked as s3_destination.cc
  // marks it (the key's SHA-256, 32 hex digits), before it was created.
  const std::string own_key = "ship/own";
  ASSERT_VALISE_OK(client->PutObject(
      "b",
      "ship/.valise/uploads/h1/" + test::Sha256Of(own_key).Hex().substr(0, 32),
      PayloadOf(own_key), {}, false, &w));
  ASSERT_VALISE_OK(client->CreateMultipartUpload("b", own_key, {}, &own_id));
  S3ListUploadsResult page;
  ASSERT_VALISE_OK(client->ListMultipartUploads("b", "ship/", "", "", &page));
  int64_t live_at = 0;
  for (const S3UploadSummary& u : page.uploads) {
    if (u.upload_id == live_id) live_at = ParseS3Time(u.initiated) / 1000000000;
  }
  ASSERT_GT(live_at, 0);

  IngestOptions io = S3Ingest(client.get());
  io.s3_options.stale_upload_age_s = 30;
  io.s3_options.now = [live_at] { return live_at + 2; };
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, io, &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  const auto left = d.store.Uploads("b");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].second, live_id);
  std::string notes;
  for (const std::string& n : r.notes) notes += n + "\n";
  EXPECT_NE(notes.find("aborted 2 multipart upload(s)"), std::string::npos)
      << notes;
  EXPECT_NE(notes.find("1 of this host, h1; 1 older than 30 s"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("1 multipart upload(s) of other hosts"),
            std::string::npos)
      << notes;
  for (const std::string& k : d.store.Keys("b")) {
    EXPECT_NE(k.rfind("ship/.valise/uploads/", 0), 0u)
        << "a marker left: " << k;
  }
  d.CheckStore({});
}

// Goal (issue 17): host hb, running, learns from host ha's journal
// objects (read again every journal_poll_ms) that ha committed a file
// since hb's plan, and its Stage refuses the file as CommittedElsewhere
// (naming ha), so the core does not read it; a file nobody committed is
// staged. Fails without the poll (Stage stages it: read twice).
TEST(S3DestinationHosts, StageRefusesAFileAnotherHostCommitted) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  IngestOptions io = S3Ingest(client.get());
  S3DestinationOptions hb = io.s3_options;
  hb.host = "hb";
  hb.journal_poll_ms = 5;
  S3Url url;
  ASSERT_VALISE_OK(ParseS3Url("s3://b/ship", &url));
  auto dest = NewS3Destination(client.get(), url, hb);
  DestInfo info;
  ASSERT_VALISE_OK(dest->Open(&info));
  std::vector<JournalRecord> records;
  std::vector<std::string> notes;
  ASSERT_VALISE_OK(dest->Resume("hb's run", &records, &notes));

  io.s3_options.host = "ha";  // commits every file meanwhile
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, io, &r));
  ASSERT_EQ(r.ExitCode(), 0) << FormatSummary(r);

  StageRequest req;
  req.name = "small";
  req.key = "e0-p0";
  req.size = d.files["small"].size();
  req.digests = {test::Sha256Of(d.files["small"])};
  std::unique_ptr<StagedFile> staged;
  Status s;
  for (int i = 0; i < 30000; ++i) {  // the poll's next round (5 ms)
    s = dest->Stage(req, &staged);
    if (!s.ok()) break;
    dest->Discard(std::move(staged));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(IsCommittedElsewhere(s)) << s.ToString();
  EXPECT_NE(s.message().find("host ha"), std::string::npos) << s.ToString();
  req.name = "not in the manifest";
  ASSERT_VALISE_OK(dest->Stage(req, &staged));
  dest->Discard(std::move(staged));
  // Another file under the name (other digests): staged, for Name to
  // find the key taken.
  req.name = "small";
  req.digests = {test::Sha256Of("other bytes")};
  ASSERT_VALISE_OK(dest->Stage(req, &staged));
  dest->Discard(std::move(staged));
  dest->CleanUp();
}

// A destination that is `inner` but for Stage, which finds `elsewhere`
// committed by another host (as S3Destination does once it read that
// host's journal), the other host's commit made then by `commit`.
class ElsewhereDest final : public Destination {
 public:
  ElsewhereDest(std::unique_ptr<Destination> inner, std::string elsewhere,
                std::function<void()> commit, int* refused)
      : refused_(refused),
        inner_(std::move(inner)),
        elsewhere_(std::move(elsewhere)),
        commit_(std::move(commit)) {}
  const std::string& where() const override { return inner_->where(); }
  Status Open(DestInfo* info) override { return inner_->Open(info); }
  Status Resume(const std::string& n, std::vector<JournalRecord>* r,
                std::vector<std::string>* notes) override {
    return inner_->Resume(n, r, notes);
  }
  Status Stat(const std::string& name, FileInfo* info) override {
    return inner_->Stat(name, info);
  }
  std::string ReadPath(const std::string& name) const override {
    return inner_->ReadPath(name);
  }
  StageWriter* writer() override { return inner_->writer(); }
  Status Stage(const StageRequest& req,
               std::unique_ptr<StagedFile>* out) override {
    if (req.name == elsewhere_) {
      if ((*refused_)++ == 0) commit_();
      return CommittedElsewhere(req.name, "host hz");
    }
    return inner_->Stage(req, out);
  }
  Status Finish(StagedFile* f) override { return inner_->Finish(f); }
  Status Seal(const std::vector<StagedFile*>& f,
              std::vector<Status>* each) override {
    return inner_->Seal(f, each);
  }
  void Name(const std::vector<StagedFile*>& f,
            std::vector<Status>* each) override {
    inner_->Name(f, each);
  }
  Status Record(const std::vector<JournalRecord>& r) override {
    return inner_->Record(r);
  }
  Status Sync() override { return inner_->Sync(); }
  Status Duplicate(const std::string& from, const StageRequest& req,
                   DuplicateKind kind,
                   std::unique_ptr<StagedFile>* out) override {
    return inner_->Duplicate(from, req, kind, out);
  }
  void Adopt(const std::string& name,
             std::unique_ptr<StagedFile>* out) override {
    inner_->Adopt(name, out);
  }
  void Discard(std::unique_ptr<StagedFile> f) override {
    inner_->Discard(std::move(f));
  }
  void CleanUp() override { inner_->CleanUp(); }
  Status Close(const std::string& note) override { return inner_->Close(note); }

 private:
  int* const refused_;  // Stage refused it: counted (outlives this)
  std::unique_ptr<Destination> inner_;
  const std::string elsewhere_;
  const std::function<void()> commit_;  // the other host's commit
};

// Goal (issue 17): a file the destination finds committed by another host
// when its turn comes is not read, not recorded by this run and counted
// as resumed (with a note saying why), and the paths that share its
// content are placed from it; the run exits 0. Fails without the core's
// handling of CommittedElsewhere (the file counts as DEST failing: exit 2).
TEST(S3DestinationHosts, AFileCommittedElsewhereIsNotRead) {
  Dataset d;
  AddStandardFiles(&d);
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient();
  // "dup1" is committed by host hz once the plan is made: put there as hz
  // would have, when its turn comes.
  const S3Payload dup1 = PayloadOf(d.files["dup1"]);
  auto commit = [&] {
    S3WriteResult w;
    S3Metadata meta;
    meta["valise-sha256"] = test::Sha256Of(d.files["dup1"]).Hex();
    EXPECT_VALISE_OK(
        client->PutObject("b", "ship/dup1", dup1, meta, false, &w));
  };
  IngestOptions io = S3Ingest(client.get());
  S3Url url;
  ASSERT_VALISE_OK(ParseS3Url("s3://b/ship", &url));
  int refused = 0;  // the destination is gone when the ingest returns
  io.dest_factory = [&](const std::string&, std::unique_ptr<Destination>* out) {
    *out = std::make_unique<ElsewhereDest>(
        NewS3Destination(client.get(), url, io.s3_options), "dup1", commit,
        &refused);
    return Status::OK();
  };
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, io, &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(r.files_skipped_resume, 1u) << FormatSummary(r);
  EXPECT_EQ(r.files_ok, d.files.size() - 1);
  std::string notes;
  for (const std::string& n : r.notes) notes += n + "\n";
  EXPECT_NE(notes.find("1 file(s) committed by another host"),
            std::string::npos)
      << notes;
  for (const JournalRecord& rec : d.Journal()) {
    EXPECT_NE(rec.path, "dup1") << "recorded by this run";
  }
  d.CheckStore({});  // z/dup2 placed from it
  std::string got;
  EXPECT_TRUE(d.store.ObjectBytes("b", "ship/z/dup2", &got));
}

// Goal (issue 17): `valise status` of a prefix several hosts ingest into
// merges their journals: per host the files and bytes it committed and
// whether its last run ended (h2's second run died after its start), per
// drive the host it was last seen at (the one whose journal committed its
// files; a drive no host read: none), and the drive still to bring says
// so in the text. Fails without the merge (no hosts, no seen_at).
TEST(S3DestinationHosts, StatusMergesTheHostsJournals) {
  Dataset d;
  d.disk->AddFile("d1/a/one", test::RandomBytes(3 * kChunk, 21), 1000);
  d.disk->AddFile("d1/a/two", test::RandomBytes(1000, 22), 1000);
  d.disk->AddFile("d2/b/one", test::RandomBytes(50000, 23), 1000);
  d.disk->AddFile("d3/c/one", test::RandomBytes(700, 24), 1000);
  const std::vector<std::string> srcs = {"d1", "d2", "d3"};
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(d.disk.get(), srcs, test::ShaXxh(),
                                test::SmallPipelineOptions(kChunk, 1), &m,
                                nullptr, &summary));
  ShipmentDrives drives;
  std::vector<DriveIdentity> ids(3);
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i].whole = true;
    ids[i].fs_uuid = "u" + std::to_string(i + 1);
  }
  ASSERT_VALISE_OK(DescribeShipmentDrives(m, srcs, ids, summary.drive_runs,
                                          {"ship-01", "ship-02", "ship-03"},
                                          &drives));
  auto client = d.store.NewClient();
  IngestOptions io = S3Ingest(client.get());
  RunReport r;
  io.s3_options.host = "h1";
  ASSERT_VALISE_OK(d.Ingest(m, io, &r, {"d1"}));
  io.s3_options.host = "h2";
  ASSERT_VALISE_OK(d.Ingest(m, io, &r, {"d2"}));
  // h2 again, killed once its run began: a begin record, no end.
  S3Url url;
  ASSERT_VALISE_OK(ParseS3Url("s3://b/ship", &url));
  {
    auto dest = NewS3Destination(client.get(), url, io.s3_options);
    DestInfo info;
    ASSERT_VALISE_OK(dest->Open(&info));
    std::vector<JournalRecord> records;
    std::vector<std::string> notes;
    ASSERT_VALISE_OK(dest->Resume("killed", &records, &notes));
  }
  auto fs = NewS3FileSystem(d.disk.get(), client.get(), 3);
  ShipmentStatus st;
  ASSERT_VALISE_OK(
      ComputeShipmentStatus(fs.get(), m, &drives, "s3://b/ship", &st));
  ASSERT_EQ(st.hosts.size(), 2u);
  EXPECT_EQ(st.hosts[0].name, "h1");
  EXPECT_EQ(st.hosts[0].files, 2u);
  EXPECT_EQ(st.hosts[0].bytes, 3 * kChunk + 1000);
  EXPECT_TRUE(st.hosts[0].ended);
  EXPECT_EQ(st.hosts[1].name, "h2");
  EXPECT_EQ(st.hosts[1].files, 1u);
  EXPECT_FALSE(st.hosts[1].ended);
  EXPECT_EQ(st.hosts[1].last_run.size(), 20u) << st.hosts[1].last_run;
  ASSERT_EQ(st.drives.size(), 3u);
  EXPECT_EQ(st.drives[0].seen_at, "h1");
  EXPECT_EQ(st.drives[1].seen_at, "h2");
  EXPECT_EQ(st.drives[2].seen_at, "");
  ASSERT_EQ(st.needed.size(), 1u);
  EXPECT_EQ(st.needed[0], 2u);
  const std::string text = FormatShipmentStatus(st, m, "M", "s3://b/ship");
  EXPECT_NE(text.find("running or died"), std::string::npos) << text;
  for (size_t a = 0, b; a < text.size(); a = b + 1) {
    b = text.find('\n', a);
    EXPECT_LE(b - a, 80u) << text.substr(a, b - a);
  }
  EXPECT_NE(text.find("at h2 (its journal)"), std::string::npos) << text;
  const std::string json = FormatShipmentStatusJson(st, m, "M", "s3://b/ship");
  EXPECT_NE(json.find("\"seen_at\": \"h1\""), std::string::npos) << json;
}

// The seed's draws.
struct Rng {
  explicit Rng(uint64_t seed) : gen(seed) {}
  uint64_t Uniform(uint64_t n) { return gen() % n; }
  std::mt19937_64 gen;
};

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = getenv(name);
  return v ? strtoull(v, nullptr, 10) : fallback;
}

// What the seeds did, over all of them: parts copied server-side, files
// whose rerun went on in the upload the killed run left (resume by chunk).
struct SeedTally {
  uint64_t part_copies = 0;
  uint64_t signed_seeds = 0;
  uint64_t resumed_by_chunk = 0;
};

void RunSeed(uint64_t seed, SeedTally* tally) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  // A stream of its own (the draws above unchanged): half the seeds decide
  // by a signed chunk index, with one-chunk parts signed by their chunk's
  // digest, and a file that is another with data appended, whose parts
  // may be copied server-side from it (issue 15).
  Rng chunks(seed * 7919 + 1);
  const bool signed_run = chunks.Uniform(2) == 0;
  SCOPED_TRACE(signed_run ? "signed chunk digests" : "whole-file digests");
  Dataset d(seed, signed_run ? kChunk : 2 * kChunk);
  const int n = 3 + static_cast<int>(rng.Uniform(8));
  for (int i = 0; i < n; ++i) {
    const uint64_t sizes[] = {0,          1,          kChunk,
                              kChunk + 1, 2 * kChunk, 3 * kChunk,
                              4 * kChunk, 150 << 10,  7 * kChunk - 3};
    const uint64_t size = sizes[rng.Uniform(std::size(sizes))];
    const bool dup = i > 0 && rng.Uniform(4) == 0;
    std::string data =
        dup ? d.files.begin()->second : test::RandomBytes(size, seed * 100 + i);
    d.Add((rng.Uniform(2) ? "dir/" : "") + std::string("f") + std::to_string(i),
          data);
  }
  if (signed_run) {
    const std::string prefix =
        test::RandomBytes((1 + chunks.Uniform(4)) * kChunk, seed * 100 + 99);
    d.Add("base", prefix);
    d.Add("appended", prefix + test::RandomBytes(1 + chunks.Uniform(3 * kChunk),
                                                 seed * 100 + 98));
    // And one more, moved to drive d2 once the manifest is made, which only
    // the rerun is given: read whole there, its parts copied from base's
    // object whichever way the first run went (appended, left part way by
    // a killed run, is resumed by chunk in the rerun: the parts it kept are
    // neither sent nor copied again).
    d.Add("late", prefix + test::RandomBytes(1 + chunks.Uniform(2 * kChunk),
                                             seed * 100 + 97));
  }
  Manifest m = signed_run ? d.MakeSignedManifest() : d.MakeManifest();
  std::vector<std::string> rerun_drives = {"d1"};
  if (signed_run) {
    d.disk->AddFile("d2/late", d.files.at("late"), 1000);
    std::unique_ptr<Directory> d1;
    ASSERT_VALISE_OK(d.disk->OpenDirectory("d1", false, &d1));
    ASSERT_VALISE_OK(d1->Remove("late"));
    rerun_drives.push_back("d2");
  }
  std::map<std::string, std::string> others;
  if (rng.Uniform(4) == 0) {
    auto c = d.store.NewClient();
    S3WriteResult w;
    const std::string rel = d.files.begin()->first;
    others[rel] = "already here";
    ASSERT_VALISE_OK(c->PutObject("b", "ship/" + rel, PayloadOf(others[rel]),
                                  {}, false, &w));
  }
  FakeS3Faults f;
  f.reset_one_in = 6 + rng.Uniform(30);
  f.error_500_one_in = 6 + rng.Uniform(30);
  f.slowdown_one_in = 6 + rng.Uniform(30);
  f.error_in_200_one_in = 4 + rng.Uniform(10);
  f.lost_answer_one_in = 4 + rng.Uniform(10);
  d.store.SetFaults(f);
  // Perhaps kill -9 the client at a seeded request.
  const bool kill = rng.Uniform(2) == 0;
  const uint64_t kill_at = 1 + rng.Uniform(40);
  {
    auto client = d.store.NewClient(30);
    std::atomic<bool> done{false};
    std::thread killer;
    if (kill) {
      killer = std::thread([&] {
        while (!done.load() && d.store.counters().requests < kill_at) {
          std::this_thread::yield();
        }
        if (!done.load()) d.store.KillClients();
      });
    }
    RunReport r;
    Status s = d.Ingest(m, client.get(), &r);
    done = true;
    if (killer.joinable()) killer.join();
    if (!kill) {
      ASSERT_VALISE_OK(s);
      // late is missing (on d2) in a signed run.
      EXPECT_EQ(r.ExitCode(), others.empty() && !signed_run ? 0 : 1)
          << FormatSummary(r);
    }
    d.CheckStore(others);
  }
  // The rerun: the store healthy, a new process.
  d.store.SetFaults(FakeS3Faults());
  auto client = d.store.NewClient();
  RunReport r;
  ASSERT_VALISE_OK(d.Ingest(m, S3Ingest(client.get()), &r, rerun_drives));
  EXPECT_EQ(r.ExitCode(), others.empty() ? 0 : 1) << FormatSummary(r);
  EXPECT_EQ(r.files_ok + r.files_skipped_resume, d.files.size() - others.size())
      << FormatSummary(r);
  d.CheckStore(others);
  EXPECT_TRUE(d.store.Uploads("b").empty()) << "a multipart upload left";
  tally->part_copies += d.store.counters().part_copies;
  tally->signed_seeds += signed_run;
  tally->resumed_by_chunk += r.files_resumed_by_chunk;
  for (const std::string& k : d.store.Keys("b")) {
    EXPECT_NE(k.rfind("ship/.valise/uploads/", 0), 0u)
        << "a marker left: " << k;
  }
  for (const auto& [rel, data] : d.files) {
    if (others.count(rel)) continue;
    std::string got;
    EXPECT_TRUE(d.store.ObjectBytes("b", "ship/" + rel, &got)) << rel;
  }
}

TEST(S3DestinationRandomized, FaultsCrashAndRerun) {
  SeedTally tally;
  const uint64_t one = EnvNumber("VALISE_SEED", 0);
  if (one != 0) return RunSeed(one, &tally);
  const uint64_t seeds = EnvNumber("VALISE_S3_SEEDS", 200);
  for (uint64_t seed = 1; seed <= seeds && !HasFailure(); ++seed) {
    RunSeed(seed, &tally);
  }
  // The chunk paths were reached (with 20 seeds or more, some signed).
  if (seeds >= 20) {
    EXPECT_GT(tally.signed_seeds, 0u);
    EXPECT_GT(tally.part_copies, 0u);
    EXPECT_GT(tally.resumed_by_chunk, 0u);
  }
  printf(
      "%llu of %llu seeds by signed chunk digests, %llu parts copied, %llu "
      "files resumed by chunk\n",
      static_cast<unsigned long long>(tally.signed_seeds),
      static_cast<unsigned long long>(seeds),
      static_cast<unsigned long long>(tally.part_copies),
      static_cast<unsigned long long>(tally.resumed_by_chunk));
}

}  // namespace
}  // namespace valise
