// bench_http_parts.cpp: the pieces of a request's path through mlgate, one at
// a time, so the wrk figures (bench/run.sh) can be split into their costs:
//   - input validation of a POST /predict body (parse + rules);
//   - the key check (KeyCache::authenticate): valid, malformed, well-formed but unknown,
//     among 1 key and among 10,000;
//   - the job store: a durable insert (one thread, and several threads sharing
//     group commits) and a read by uuid;
//   - JSON building: a job object (pending and completed) and its dump, the
//     /health body, and the access-log line as the server builds it
//     (access_log_line(), the function log_request calls);
//   - small per-request helpers: rfc3339, the random bytes of a UUIDv7 job id, find_route,
//     std::regex matching as cpp-httplib's router does for POST routes.
// Run: build-bench/bench/bench_http_parts --benchmark_min_time=0.2
// The store benchmarks write to a temp dir (synchronous=FULL: each commit is
// an fsync, so their figure is the disk's as much as mlgate's).
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "access_log.hpp"
#include "api_key.hpp"
#include "clock.hpp"
#include "db.hpp"
#include "sqlite_job_store.hpp"
#include "sqlite_key_store.hpp"
#include "routes.hpp"
#include "schema.hpp"
#include "validation.hpp"

using namespace mlgate;
using json = nlohmann::json;

namespace {

std::string temp_dir(const char* tag) {
  auto p = std::filesystem::temp_directory_path() /
           ("mlgate-bench-" + std::string(tag) + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// ---- validation ----

void BM_ParsePredictBody(benchmark::State& state) {
  const std::string body =
      R"({"text":"The service was good and the staff were friendly, visit number 12345"})";
  std::string text;
  for (auto _ : state) {
    auto err = parse_predict_body(body, text);
    benchmark::DoNotOptimize(err);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParsePredictBody);

void BM_ValidateText5000(benchmark::State& state) {
  std::string text;
  while (text.size() < 5000) text += "good food, friendly staff ";
  text.resize(5000);
  for (auto _ : state) benchmark::DoNotOptimize(validate_text(text));
  state.SetBytesProcessed(state.iterations() * int64_t(text.size()));
}
BENCHMARK(BM_ValidateText5000);

// ---- the key check ----

// `others` more keys beside the one the benchmarks present: the lookup is a
// binary search of a table sorted by hash (key_snapshot.hpp), so its cost
// grows with the log of the key count.
struct KeyFixture {
  std::string dir = temp_dir("keys");
  std::string db_path = dir + "/mlgate.db";
  std::string key, unknown;
  std::unique_ptr<KeyCache> cache;
  explicit KeyFixture(int others) {
    {
      Db db = Db::open(db_path);
      migrate(db);
      KeyCreateOptions o;
      o.name = "bench";
      Tx tx(db);
      for (int i = 0; i < others; ++i) create_key(db, o, wall_ms());
      key = create_key(db, o, wall_ms()).key;
      tx.commit();
    }
    unknown = generate_api_key();  // well formed, valid checksum, not stored
    cache = std::make_unique<KeyCache>(db_path);
  }
  ~KeyFixture() { std::filesystem::remove_all(dir); }
};
KeyFixture& keys() {
  static KeyFixture f(0);
  return f;
}
KeyFixture& many_keys() {
  static KeyFixture f(9'999);
  return f;
}

// The loop every key-check benchmark runs: one presented value, again and again.
void auth_loop(benchmark::State& state, KeyFixture& f, const std::string& presented) {
  for (auto _ : state) benchmark::DoNotOptimize(f.cache->authenticate(presented, wall_ms()));
  state.SetItemsProcessed(state.iterations());
}

void BM_AuthValidKey(benchmark::State& state) {
  auto& f = keys();
  auth_loop(state, f, f.key);
}
BENCHMARK(BM_AuthValidKey)->Threads(1)->Threads(2)->UseRealTime();

void BM_AuthValidKeyOf10000(benchmark::State& state) {
  auto& f = many_keys();
  auth_loop(state, f, f.key);
}
BENCHMARK(BM_AuthValidKeyOf10000);

void BM_AuthUnknownKeyOf10000(benchmark::State& state) {
  auto& f = many_keys();
  auth_loop(state, f, f.unknown);
}
BENCHMARK(BM_AuthUnknownKeyOf10000);

void BM_AuthMalformedKey(benchmark::State& state) {
  auto& f = keys();
  auth_loop(state, f, "not-a-key");
}
BENCHMARK(BM_AuthMalformedKey);

// A well-formed unknown key (valid checksum, not stored) also costs the
// miss-refresh: one PRAGMA data_version while nothing was committed (here
// nothing ever is), see sqlite_key_cache.hpp.
void BM_AuthUnknownKey(benchmark::State& state) {
  auto& f = keys();
  auth_loop(state, f, f.unknown);
}
BENCHMARK(BM_AuthUnknownKey)->Threads(1)->Threads(2)->UseRealTime();

void BM_Sha256Key(benchmark::State& state) {
  auto& f = keys();
  for (auto _ : state) benchmark::DoNotOptimize(sha256(f.key));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sha256Key);

// ---- the job store ----

struct StoreFixture {
  std::string dir = temp_dir("store");
  std::unique_ptr<JobStore> store;
  std::string uuid;
  StoreFixture() {
    store = std::make_unique<SqliteJobStore>(
        JobStoreOptions{dir + "/mlgate.db", size_t(1) << 40, 3});
    NewJob nj;
    nj.owner = "bench";
    nj.key_id = "key_bench";
    nj.input = "The service was good and the staff were friendly";
    uuid = store->insert(nj, wall_ms()).job.uuid;
  }
  ~StoreFixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};
StoreFixture& store() {
  static StoreFixture f;
  return f;
}

// Durable inserts; with N threads they share commits (items/s is the total).
void BM_StoreInsert(benchmark::State& state) {
  auto& f = store();
  NewJob nj;
  nj.owner = "bench";
  nj.key_id = "key_bench";
  nj.input = "The service was good and the staff were friendly, visit number 1";
  uint64_t c0 = f.store->commits(), o0 = f.store->committed_ops();
  for (auto _ : state) benchmark::DoNotOptimize(f.store->insert(nj, wall_ms()));
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    double commits = double(f.store->commits() - c0);
    state.counters["ops_per_commit"] =
        commits > 0 ? double(f.store->committed_ops() - o0) / commits : 0;
  }
}
BENCHMARK(BM_StoreInsert)->Threads(1)->Threads(8)->Threads(32)->UseRealTime();

void BM_StoreGet(benchmark::State& state) {
  auto& f = store();
  for (auto _ : state) benchmark::DoNotOptimize(f.store->get(f.uuid, "bench"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreGet)->Threads(1)->Threads(2)->UseRealTime();

// ---- JSON building ----

Job pending_job() {
  Job j;
  j.seq = 42;
  j.uuid = "019ac3d2-1e32-7c41-9f6a-a4cea5814a8a";  // UUIDv7, as the server makes them
  j.owner = "bench";
  j.key_id = "key_Qw7Cv8BR4f";
  j.status = JobStatus::Pending;
  j.created_at = 1764120682162;
  return j;
}
Job completed_job() {
  Job j = pending_job();
  j.status = JobStatus::Completed;
  j.result_label = "positive";
  j.result_score = 0.7269;
  j.result = R"({"neg":0.0,"neu":0.556,"pos":0.444,"compound":0.7269})";
  j.started_at = j.created_at + 1;
  j.finished_at = j.created_at + 2;
  return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void BM_JobToJsonPending(benchmark::State& state) {
  Job j = pending_job();
  for (auto _ : state) benchmark::DoNotOptimize(dump(job_to_json(j)));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JobToJsonPending);

void BM_JobToJsonCompleted(benchmark::State& state) {
  Job j = completed_job();
  for (auto _ : state) benchmark::DoNotOptimize(dump(job_to_json(j)));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JobToJsonCompleted);

// The /health body as h_health builds it.
void BM_HealthBodyJson(benchmark::State& state) {
  for (auto _ : state) {
    json j = {{"status", "healthy"}, {"version", "0.1.0"}, {"database", "ok"},
              {"workers", "ok"},     {"draining", false},  {"unfinished_jobs", 3}};
    benchmark::DoNotOptimize(dump(j));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HealthBodyJson);

// The access-log line as Server::Impl::log_request builds it: the shipped
// function, with the values of an authenticated GET /jobs/{id}.
void BM_AccessLogLine(benchmark::State& state) {
  int64_t t0 = mono_ns();
  const std::string key = "key_Qw7Cv8BR4f";
  AccessLogEntry e;
  e.client = "127.0.0.1";
  e.key_id = &key;
  e.method = "GET";
  e.route = "/jobs/{job_uuid}";
  e.status = 200;
  for (auto _ : state) {
    ++e.rid;
    e.ms = static_cast<double>(mono_ns() - t0) / 1e6;
    e.wall_ms = wall_ms();
    benchmark::DoNotOptimize(access_log_line(e));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AccessLogLine);

// ---- per-request helpers ----

void BM_Rfc3339(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(rfc3339(wall_ms()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rfc3339);

// A job id is a UUIDv7 (job_store.cpp's uuid7()): 48 bits of time and 10
// random bytes from getrandom(2), one system call per job.
void BM_RandomBytesUuid7(benchmark::State& state) {
  uint8_t b[10];
  for (auto _ : state) {
    random_bytes(b, sizeof b);
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RandomBytesUuid7);

void BM_FindRouteGetJob(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(find_route("GET", "/jobs/019ac3d2-1e32-7c41-9f6a-a4cea5814a8a"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindRouteGetJob);

// cpp-httplib 0.11.4 routes each POST by std::regex_match over its Post()
// patterns (mlgate registers one per body route).
void BM_HttplibRegexRoute(benchmark::State& state) {
  static const std::regex re("/predict");
  std::smatch m;
  const std::string path = "/predict";
  for (auto _ : state) benchmark::DoNotOptimize(std::regex_match(path, m, re));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HttplibRegexRoute);

}  // namespace

BENCHMARK_MAIN();
