// bench_http_parts.cpp: the pieces of a request's path through mlgate, one at
// a time, so the wrk figures (bench/run.sh) can be split into their costs:
//   - input validation of a POST /predict body (parse + rules);
//   - the key check (KeyCache::authenticate): valid, malformed, well-formed but unknown;
//   - the job store: a durable insert (one thread, and several threads sharing
//     group commits) and a read by uuid;
//   - JSON building: a job object (pending and completed) and its dump, the
//     access-log line as server.cpp builds it, and a hand-formatted equivalent;
//   - small per-request helpers: rfc3339, random bytes for a UUID, find_route,
//     std::regex matching as cpp-httplib's router does for POST routes.
// Run: build-bench/bench/bench_http_parts --benchmark_min_time=0.2
// The store benchmarks write to a temp dir (synchronous=FULL: each commit is
// an fsync, so their figure is the disk's as much as mlgate's).
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_key.hpp"
#include "clock.hpp"
#include "db.hpp"
#include "job_store.hpp"
#include "key_store.hpp"
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

struct KeyFixture {
  std::string dir = temp_dir("keys");
  std::string db_path = dir + "/mlgate.db";
  std::string key, unknown;
  std::unique_ptr<KeyCache> cache;
  KeyFixture() {
    {
      Db db = Db::open(db_path);
      migrate(db);
      KeyCreateOptions o;
      o.name = "bench";
      key = create_key(db, o, wall_ms()).key;
    }
    unknown = generate_api_key();  // well formed, valid checksum, not stored
    cache = std::make_unique<KeyCache>(db_path);
  }
  ~KeyFixture() { std::filesystem::remove_all(dir); }
};
KeyFixture& keys() {
  static KeyFixture f;
  return f;
}

void BM_AuthValidKey(benchmark::State& state) {
  auto& f = keys();
  for (auto _ : state) benchmark::DoNotOptimize(f.cache->authenticate(f.key, wall_ms()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AuthValidKey)->Threads(1)->Threads(2)->UseRealTime();

void BM_AuthMalformedKey(benchmark::State& state) {
  auto& f = keys();
  for (auto _ : state) benchmark::DoNotOptimize(f.cache->authenticate("not-a-key", wall_ms()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AuthMalformedKey);

// A well-formed unknown key also triggers, at most every 10 ms, a reload check.
void BM_AuthUnknownKey(benchmark::State& state) {
  auto& f = keys();
  for (auto _ : state) benchmark::DoNotOptimize(f.cache->authenticate(f.unknown, wall_ms()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AuthUnknownKey);

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
    store = std::make_unique<JobStore>(
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
  j.uuid = "e6999a94-53ea-43f8-a407-a4cea5814a8a";
  j.owner = "bench";
  j.key_id = "key_Qw7Cv8BR4f";
  j.status = "pending";
  j.created_at = 1764120682162;
  return j;
}
Job completed_job() {
  Job j = pending_job();
  j.status = "completed";
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

// The access-log line as Server::Impl::log_request builds it today.
void BM_AccessLogJson(benchmark::State& state) {
  int64_t t0 = mono_ns();
  uint64_t rid = 0;
  for (auto _ : state) {
    json j = {{"ts", rfc3339(wall_ms())},
              {"level", "info"},
              {"msg", "request"},
              {"rid", ++rid},
              {"method", "GET"},
              {"route", "/jobs/{job_uuid}"},
              {"status", 200},
              {"ms", static_cast<double>(mono_ns() - t0) / 1e6},
              {"key", json("key_Qw7Cv8BR4f")},
              {"client", "127.0.0.1"}};
    benchmark::DoNotOptimize(dump(j));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AccessLogJson);

// The same line formatted by hand into a reused buffer: every value is
// either chosen by mlgate (route template, method, key id: [A-Za-z0-9_{}/])
// or a number or an address mlgate formatted, so nothing needs escaping.
void BM_AccessLogHand(benchmark::State& state) {
  int64_t t0 = mono_ns();
  uint64_t rid = 0;
  std::string line;
  line.reserve(256);
  for (auto _ : state) {
    char buf[256];
    int n = std::snprintf(buf, sizeof buf,
                          "{\"ts\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"rid\":%llu,"
                          "\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,\"ms\":%.3f,"
                          "\"key\":\"%s\",\"client\":\"%s\"}",
                          rfc3339(wall_ms()).c_str(), static_cast<unsigned long long>(++rid),
                          "GET", "/jobs/{job_uuid}", 200,
                          static_cast<double>(mono_ns() - t0) / 1e6, "key_Qw7Cv8BR4f",
                          "127.0.0.1");
    line.assign(buf, size_t(n));
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AccessLogHand);

// ---- per-request helpers ----

void BM_Rfc3339(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(rfc3339(wall_ms()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rfc3339);

// uuid4() reads 16 bytes from getrandom(2) per job: one system call.
void BM_RandomBytes16(benchmark::State& state) {
  uint8_t b[16];
  for (auto _ : state) {
    random_bytes(b, sizeof b);
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RandomBytes16);

void BM_FindRouteGetJob(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(find_route("GET", "/jobs/e6999a94-53ea-43f8-a407-a4cea5814a8a"));
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
