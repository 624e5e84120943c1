// The exec plug-in model behind the real server: a user's model serves jobs
// through the same API, and a crashing or hanging one fails jobs, not the
// server.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "harness.hpp"

using namespace e2e;

namespace {

// examples/ of this source tree (the server runs in its own temp directory).
std::string example(const std::string& name) {
  auto root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return (root / "examples" / name).string();
}

// A POSIX sh model that runs `rules` on each request line, then answers "ok".
std::string ok_model_with(const std::string& rules) {
  return "while IFS= read -r line; do " + rules +
         R"( id=${line#\{\"id\":}; printf '{"id":%s,"label":"ok","score":1}\n' "${id%%,*}"; done)";
}

bool have_python3() { return std::system("python3 -c '' >/dev/null 2>&1") == 0; }

json run_job(ServerProc& s, const std::string& key, const std::string& text) {
  auto c = s.client();
  auto r = post_predict(c, key, text);
  REQUIRE(r);
  REQUIRE(r->status == 202);
  return wait_finished(c, key, json::parse(r->body)["job_uuid"]);
}

}  // namespace

TEST_CASE("exec: the example Python model serves a job to completed with its label") {
  if (!have_python3()) {
    MESSAGE("SKIPPED: python3 is not installed");
    return;
  }
  ServerProc s({"--model", "exec", "--exec", "python3 " + example("exec_keyword_model.py")});
  std::string key = s.create_key("alice");
  json done = run_job(s, key, "I love it, a wonderful film");
  CHECK(done["status"] == "completed");
  CHECK(done["result_label"] == "positive");
  CHECK(done["result_score"] == 1.0);
  CHECK(done["result"] == json{{"positive_words", 2}, {"negative_words", 0}});

  json refused = run_job(s, key, "12345 67890 !!!");  // the example: {"error": "no words to score"}
  CHECK(refused["status"] == "failed");
  CHECK(refused["error"] == "model error: no words to score");

  auto root = s.client().Get("/");
  REQUIRE(root);
  CHECK(json::parse(root->body)["model"] == "exec");
}

TEST_CASE("exec: the sh example model serves jobs without Python") {
  ServerProc s({"--model", "exec", "--exec", "sh " + example("exec_echo_model.sh")});
  std::string key = s.create_key("alice");
  json done = run_job(s, key, "two lines\nof text");
  CHECK(done["status"] == "completed");
  CHECK(done["result_label"] == "two lines\nof text");
}

TEST_CASE("exec: a crashing model fails the job after max attempts; the server stays healthy") {
  std::string model = ok_model_with(R"(case "$line" in *boom*) exit 3;; esac;)");
  ServerProc s({"--model", "exec", "--exec", model, "--max-attempts", "2"});
  std::string key = s.create_key("alice");
  json failed = run_job(s, key, "this one goes boom");
  CHECK(failed["status"] == "failed");
  CHECK(failed["attempts"] == 2);
  CHECK(failed["error"] == "model process exited with status 3");

  auto health = s.client().Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  json after = run_job(s, key, "a calm text here");
  CHECK(after["status"] == "completed");
  CHECK(after["result_label"] == "ok");
}

TEST_CASE("exec: a model that hangs fails its job with the timeout; the next job completes") {
  std::string model = ok_model_with(R"(case "$line" in *hang*) sleep 60;; esac;)");
  ServerProc s({"--model", "exec", "--exec", model, "--exec-timeout", "1s",
                "--max-attempts", "1"});
  std::string key = s.create_key("alice");
  json failed = run_job(s, key, "this one will hang");
  CHECK(failed["status"] == "failed");
  CHECK(failed["error"] == "model timed out after 1s");
  CHECK(run_job(s, key, "this one is fine")["status"] == "completed");
}

TEST_CASE("exec: serve refuses --model exec without --exec") {
  CliResult r = run_cli({"serve", "--model", "exec", "--port", "0"});
  CHECK(r.status == 2);
  CHECK(r.err.find("--exec") != std::string::npos);
}
