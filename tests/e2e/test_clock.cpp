// The wall clock stepping backwards and forwards under the real binary
// (through the LD_PRELOAD shim of tests/faults/, which shifts
// CLOCK_REALTIME, gettimeofday and time; the monotonic clock runs on, as
// with a real step). Rate limits and timeouts run on the monotonic clock;
// wall time is what is stored and shown: job times, key expiry, retry
// times kept across a restart, the saved limiter state.
#include <doctest/doctest.h>

#include <thread>

#include "harness.hpp"
#include "harness_faults.hpp"

using namespace e2e;
using namespace std::chrono_literals;

namespace {

constexpr double kHour = 3600, kDay = 86400;

int retry_after(const httplib::Result& r) {
  REQUIRE(r);
  REQUIRE(r->status == 429);
  return std::stoi(r->get_header_value("Retry-After"));
}

// POSTs as key `key` (tier free: 5/min, burst 5) until the first 429.
void exhaust(httplib::Client& c, const std::string& key) {
  for (int i = 0; i < 5; ++i) {
    auto r = post_predict(c, key, "Spending my budget, request " + std::to_string(i));
    REQUIRE(r);
    REQUIRE(r->status == 202);
  }
}

json get_job(httplib::Client& c, const std::string& key, const std::string& id) {
  auto r = c.Get("/jobs/" + id, {{"X-API-Key", key}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

// An exec model that sleeps `secs` before each answer, or that answers
// {"error"} the first time it sees a "flaky-N" token and "ok" after.
std::string sleepy_model(const std::string& secs) {
  return "while IFS= read -r line; do sleep " + secs +
         R"(; id=${line#\{\"id\":}; printf '{"id":%s,"label":"ok","score":1}\n' "${id%%,*}"; done)";
}
std::string flaky_model(const std::string& dir) {
  return R"(while IFS= read -r line; do id=${line#\{\"id\":}; id=${id%%,*}; t=${line#*flaky-}; t=${t%%[!0-9]*}; )"
         "f=" + dir + R"(/seen-$t; if [ -e "$f" ]; then printf '{"id":%s,"label":"ok","score":1}\n' "$id"; )"
         R"(else : > "$f"; printf '{"id":%s,"error":"try again"}\n' "$id"; fi; done)";
}

}  // namespace

TEST_CASE("rate limits run on the monotonic clock: a wall-clock step of a day either way neither refills nor extends a limit") {
  Faults f;
  ServerProc s;
  std::string key = s.create_key("a");  // free: 5/min
  auto c = s.client();
  exhaust(c, key);
  const int first = retry_after(post_predict(c, key));
  CHECK(first >= 1);
  CHECK(first <= 12);
  f.set_clock_offset(kDay);
  CHECK(retry_after(post_predict(c, key)) <= first);
  f.set_clock_offset(-kDay);
  CHECK(retry_after(post_predict(c, key)) <= first);
}

TEST_CASE("limits saved over a restart: a clock stepped back an hour meanwhile locks nobody out past the burst span; stepped forward, the limit has refilled") {
  Faults f;
  ServerProc s;
  std::string key = s.create_key("a");
  auto c = s.client();
  exhaust(c, key);
  retry_after(post_predict(c, key));

  // The step happens while the server is down: SIGTERM saves the limiter
  // with wall-clock times, the next start reads them on the stepped clock.
  auto restart_at = [&](double offset) {
    s.signal(SIGTERM);
    REQUIRE(s.wait_exit() == 0);
    f.set_clock_offset(offset);
    s.start();
  };
  restart_at(-kHour);
  // The saved times now look an hour further ahead; restore clamps them to
  // the longest policy's burst span (60 s), so the wait is one interval.
  auto c2 = s.client();
  const int wait = retry_after(post_predict(c2, key));
  CHECK(wait >= 1);
  CHECK(wait <= 60);

  restart_at(0);  // saved an hour back, read now: an hour has passed
  auto c3 = s.client();
  auto r = post_predict(c3, key, "An hour later the budget is full again");
  REQUIRE(r);
  CHECK(r->status == 202);
}

TEST_CASE("a retry whose backoff runs while the clock steps back an hour still runs after its backoff") {
  // The retry is due 0.5 s after the first attempt fails; the step comes in
  // between. Before the fix the queue waited on wall time: an hour.
  Faults f;
  TempDir flags;
  ServerProc s({"--model", "exec", "--exec", flaky_model(flags.path.string()), "--tier", "fast=100/s"});
  std::string key = s.create_key("a", {"--tier", "fast"});
  auto c = s.client();
  int stepped_in_time = 0;
  for (int n = 0; n < 3; ++n) {
    f.set_clock_offset(0);
    auto r = post_predict(c, key, "this text is flaky-" + std::to_string(n) + " for a moment");
    REQUIRE(r);
    REQUIRE(r->status == 202);
    const std::string id = json::parse(r->body)["job_uuid"];
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      json j = get_job(c, key, id);
      if (j["attempts"] == 1 && j["status"] == "pending") break;
      std::this_thread::sleep_for(10ms);
    }
    f.set_clock_offset(-kHour);
    // Still waiting for its retry when the clock stepped: the case this tests.
    stepped_in_time += get_job(c, key, id)["attempts"] == 1;
    json done = wait_finished(c, key, id, 10s);
    CHECK(done["status"] == "completed");
    CHECK(done["attempts"] == 2);
  }
  CHECK(stepped_in_time > 0);
}

TEST_CASE("a job's times never run backwards when the clock steps back an hour while it runs") {
  Faults f;
  ServerProc s({"--model", "exec", "--exec", sleepy_model("1"), "--tier", "fast=100/s"});
  std::string key = s.create_key("a", {"--tier", "fast"});
  auto c = s.client();
  for (const bool cancel : {false, true}) {
    CAPTURE(cancel);
    f.set_clock_offset(0);
    auto r = post_predict(c, key, "This one takes a second to score");
    REQUIRE(r);
    REQUIRE(r->status == 202);
    const std::string id = json::parse(r->body)["job_uuid"];
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (get_job(c, key, id)["status"] != "running" && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    f.set_clock_offset(-kHour);
    json j;
    if (cancel) {
      auto d = c.Delete("/jobs/" + id, {{"X-API-Key", key}});
      REQUIRE(d);
      REQUIRE(d->status == 200);
      j = json::parse(d->body);
      CHECK(j == get_job(c, key, id));
    } else {
      j = wait_finished(c, key, id);
      CHECK(j["status"] == "completed");
    }
    // RFC 3339 with a fixed width: text order is time order.
    const std::string created = j["created_at"], started = j["started_at"], finished = j["finished_at"];
    CHECK(created <= started);
    CHECK(started <= finished);
  }
}

TEST_CASE("key expiry follows the wall clock, both ways") {
  Faults f;
  ServerProc s;
  std::string key = s.create_key("a", {"--expires-in", "1h"});
  auto c = s.client();
  auto status = [&] {
    std::this_thread::sleep_for(50ms);
    auto r = c.Get("/jobs", {{"X-API-Key", key}});
    REQUIRE(r);
    return r->status;
  };
  CHECK(status() == 200);
  f.set_clock_offset(2 * kHour);
  CHECK(status() == 401);
  // Documented, not defended: a clock stepped back makes the key valid
  // again. Only the wall clock knows when a key expires.
  f.set_clock_offset(0);
  CHECK(status() == 200);
}
