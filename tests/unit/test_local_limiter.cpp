// Unit tests for local_limiter.hpp: the Limiter contract on the embedded
// table, and what only the embedded backend does (its clock is injectable;
// its table survives a restart through the SQLite data file).
#include <doctest/doctest.h>

#include "../contract/limiter_contract.hpp"
#include "sqlite_job_store.hpp"
#include "local_limiter.hpp"
#include "sqlite_limiter_state.hpp"
#include "temp_dir.hpp"

using namespace mlgate;

MLGATE_LIMITER_CONTRACT("local", [](std::vector<RatePolicy> ps) -> std::unique_ptr<Limiter> {
  return std::make_unique<LocalLimiter>(std::move(ps), LimiterOptions{});
})

namespace {

constexpr int64_t S = kNsPerSecond;

RatePolicy rate(std::string_view text, std::string_view name) {
  auto r = parse_rate(text, name);
  REQUIRE(r.policy);
  return *r.policy;
}

struct FakeTime {
  int64_t mono = 1000 * S, wall = 1'700'000'000 * S;
  LimiterClock clock() {
    return {[this] { return mono; }, [this] { return wall; }};
  }
};

}  // namespace

TEST_CASE("the embedded limiter decides on the clock it is given") {
  FakeTime t;
  LocalLimiter l({rate("1/min,burst=1", "free")}, {}, nullptr, t.clock());
  const LimitCheck c{0, "k"};
  CHECK(l.decide({&c, 1}).allowed());
  CHECK(l.decide({&c, 1}).refused());
  t.mono += 59 * S;
  CHECK(l.decide({&c, 1}).refused());
  t.mono += 1 * S;
  CHECK(l.decide({&c, 1}).allowed());
}

TEST_CASE("a restarted embedded limiter keeps its limits through the data file") {
  testutil::TempDir dir;
  FakeTime t;
  const auto db = dir.file("mlgate.db");
  {
    SqliteJobStore store({db});
    SqliteLimiterState state(db, store.writer());
    LocalLimiter l({rate("5/min", "free")}, {}, &state, t.clock());
    const LimitCheck c{0, "client"};
    for (int i = 0; i < 5; ++i) REQUIRE(l.decide({&c, 1}).allowed());
    l.persist();
  }
  // A new process: its monotonic clock starts elsewhere; 12 s of wall time
  // have passed, so exactly one request has refilled.
  t.mono = 5 * S;
  t.wall += 12 * S;
  SqliteJobStore store({db});
  SqliteLimiterState state(db, store.writer());
  LocalLimiter l({rate("5/min", "free")}, {}, &state, t.clock());
  const LimitCheck c{0, "client"};
  CHECK(l.decide({&c, 1}).allowed());
  CHECK(l.decide({&c, 1}).refused());
}

TEST_CASE("an unreadable saved state starts the embedded limiter empty") {
  testutil::TempDir dir;
  const auto db = dir.file("mlgate.db");
  SqliteJobStore store({db});
  SqliteLimiterState state(db, store.writer());
  state.save_limiter_state("not a snapshot");
  LocalLimiter l({rate("1/min", "free")}, {}, &state);
  const LimitCheck c{0, "client"};
  CHECK(l.decide({&c, 1}).allowed());
}
