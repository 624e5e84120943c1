// The example clients in examples/ against the real server: they post, wait
// with Prefer: wait, follow a 202 to the finished job, and ride out 429 and
// 503 by waiting Retry-After. Python (standard library only) always; the
// JavaScript one where Node 18+ (with fetch) is installed.
#include <doctest/doctest.h>

#include <sstream>

#include "harness.hpp"
#include "harness_sh.hpp"

using namespace e2e;

namespace {

// Runs one example client with a key against a server; texts become
// arguments. `before`: shell text run first in the same command line.
CliResult client(const std::string& interpreter, const std::string& file, const ServerProc& s,
                 const std::string& key, const std::vector<std::string>& texts,
                 const std::string& extra = "", const std::string& before = "") {
  std::string cmd = before + "MLGATE_KEY=" + sh_quote(key) + " " + interpreter + " " + sh_quote(example_path(file)) +
                    " --url http://127.0.0.1:" + std::to_string(s.port()) + " " + extra;
  for (auto& t : texts) cmd += " " + sh_quote(t);
  return run_sh(cmd);
}

std::vector<json> jobs_of(const std::string& out) {
  std::vector<json> jobs;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) jobs.push_back(json::parse(line));
  return jobs;
}

bool have_node18() {
  return run_sh("node -e 'process.exit(typeof fetch === \"function\" ? 0 : 1)'").status == 0;
}

void check_clients(const std::string& interpreter, const std::string& file) {
  SUBCASE("finished jobs for every text, waiting with Prefer: wait") {
    ServerProc s;
    std::string key = s.create_key("client");
    auto r = client(interpreter, file, s, key, {"I love this friendly place", "This was an awful, terrible day"});
    CHECK_MESSAGE(r.status == 0, r.err);
    auto jobs = jobs_of(r.out);
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0]["status"] == "completed");
    CHECK(jobs[0]["result_label"] == "positive");
    CHECK(jobs[1]["result_label"] == "negative");
  }
  SUBCASE("a 202 is followed to the finished job") {
    ServerProc s({"--model", "exec", "--exec", slow_model(1)});
    std::string key = s.create_key("client");
    auto r = client(interpreter, file, s, key, {"Waited for by polling"}, "--wait 0");
    CHECK_MESSAGE(r.status == 0, r.err);
    auto jobs = jobs_of(r.out);
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0]["status"] == "completed");
    CHECK(s.log().find("\"route\":\"/jobs/{job_uuid}\",\"status\":200") != std::string::npos);
  }
  SUBCASE("429: waits Retry-After and goes on") {
    ServerProc s({"--tier", "slow=1/s"});
    std::string key = s.create_key("client", {"--tier", "slow"});
    auto r = client(interpreter, file, s, key, {"First text to score", "Second text to score", "Third text to score"});
    CHECK_MESSAGE(r.status == 0, r.err);
    CHECK(jobs_of(r.out).size() == 3);
    CHECK(r.err.find("answered 429; retrying in 1 s") != std::string::npos);
  }
  SUBCASE("503 (queue full): waits Retry-After until there is room") {
    TempDir t;
    const std::string gate = (t.path / "gate").string();
    ServerProc s({"--model", "exec", "--exec", gated_model(gate), "--workers", "1", "--queue-max", "1"});
    std::string key = s.create_key("client", {"--tier", "premium"});
    auto c = s.client();
    auto first = post_predict(c, key);  // holds the queue's one place until the gate opens
    REQUIRE(first);
    REQUIRE(first->status == 202);
    // The gate opens once the server has answered the client 503 (or after 30 s).
    std::string opener = "(i=0; until grep -q '\"status\":503' " + sh_quote(s.dir() + ".log") +
                         " || [ $i -ge 300 ]; do sleep 0.1; i=$((i+1)); done; touch " + sh_quote(gate) + ") & ";
    auto r = client(interpreter, file, s, key, {"Queued once there is room"}, "", opener);
    CHECK_MESSAGE(r.status == 0, r.err);
    CHECK(r.err.find("answered 503; retrying in 1 s") != std::string::npos);
    auto jobs = jobs_of(r.out);
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0]["status"] == "completed");
  }
  SUBCASE("a refused key is reported, not retried") {
    ServerProc s;
    auto r = client(interpreter, file, s, "mlg_not_a_real_key", {"Nobody may score this"});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("401") != std::string::npos);
    CHECK(r.err.find("retrying") == std::string::npos);
  }
}

}  // namespace

TEST_CASE("examples/client.py") {
  if (!have_command("python3")) {
    MESSAGE("SKIPPED: python3 is not installed");
    return;
  }
  check_clients("python3", "client.py");
}

TEST_CASE("examples/client.mjs") {
  if (!have_node18()) {
    MESSAGE("SKIPPED: no Node 18+ with fetch");
    return;
  }
  check_clients("node", "client.mjs");
}
