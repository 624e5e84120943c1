// limiter_contract.cpp: the Limiter contract (see limiter_contract.hpp).
#include "limiter_contract.hpp"

#include <atomic>
#include <string>
#include <thread>

namespace mlgate::contract {

namespace {

RatePolicy rate(std::string_view text, std::string_view name) {
  auto r = parse_rate(text, name);
  REQUIRE_MESSAGE(r.policy.has_value(), r.error);
  return *r.policy;
}

// ip: 3 at once, then one every 20 min; free: 5/h; strict: 2/s, no burst.
std::vector<RatePolicy> policies() {
  return {rate("3/h", "ip"), rate("5/h", "free"), rate("2/s,burst=1", "strict"),
          rate("20/h", "auth_fail")};
}

LimitResult one(Limiter& l, PolicyId p, std::string_view client,
                LimitMode mode = LimitMode::Charge) {
  const LimitCheck c{p, client, mode};
  return l.decide({&c, 1});
}

}  // namespace

void run_limiter_contract(const LimiterFactory& make) {
  // Every client name is unique to its subcase, so that a shared backend's
  // state from an earlier subcase cannot leak in.
  SUBCASE("policies are found by name and kept in order") {
    auto l = make(policies());
    REQUIRE(l->policies().size() == 4);
    CHECK(l->find_policy("free") == PolicyId{1});
    CHECK(l->policy(1).name == "free");
    CHECK_FALSE(l->find_policy("gold").has_value());
  }

  SUBCASE("a burst is allowed, the next request refused with the time to wait") {
    auto l = make(policies());
    const PolicyId free = *l->find_policy("free");
    for (int i = 0; i < 5; ++i) {
      const auto r = one(*l, free, "burst-client");
      REQUIRE(r.available);
      CHECK(r.allowed());
      CHECK(r.decisions[0].remaining == 4 - i);
      CHECK(r.decisions[0].reset_s == 720);  // 5/h: one more every 12 min
    }
    const auto r = one(*l, free, "burst-client");
    CHECK(r.refused());
    CHECK_FALSE(r.allowed());
    CHECK(r.decided == 1);
    CHECK(r.decisions[0].remaining == 0);
    // About 12 minutes: the time the suite has taken so far is subtracted.
    CHECK(r.decisions[0].retry_after_s >= 715);
    CHECK(r.decisions[0].retry_after_s <= 720);
    CHECK(r.decisions[0].reset_s == r.decisions[0].retry_after_s);
  }

  SUBCASE("peek decides without recording") {
    auto l = make(policies());
    const PolicyId ip = *l->find_policy("ip");
    for (int i = 0; i < 10; ++i) CHECK(one(*l, ip, "peek-client", LimitMode::Peek).allowed());
    for (int i = 0; i < 3; ++i) CHECK(one(*l, ip, "peek-client").allowed());
    CHECK(one(*l, ip, "peek-client", LimitMode::Peek).refused());
    CHECK(one(*l, ip, "peek-client").refused());
  }

  SUBCASE("clients and policies have separate budgets") {
    auto l = make(policies());
    const PolicyId ip = *l->find_policy("ip"), free = *l->find_policy("free");
    for (int i = 0; i < 3; ++i) one(*l, ip, "sep-a");
    CHECK(one(*l, ip, "sep-a").refused());
    CHECK(one(*l, ip, "sep-b").allowed());
    CHECK(one(*l, free, "sep-a").allowed());
  }

  SUBCASE("checks are evaluated in order and stop at the first refusal") {
    auto l = make(policies());
    const PolicyId ip = *l->find_policy("ip"), free = *l->find_policy("free");
    const LimitCheck both[] = {{ip, "order-addr"}, {free, "order-key"}};
    for (int i = 0; i < 3; ++i) {
      const auto r = l->decide(both);
      REQUIRE(r.allowed());
      CHECK(r.decided == 2);
    }
    // The address is spent: the key's budget is neither decided nor charged.
    for (int i = 0; i < 4; ++i) {
      const auto r = l->decide(both);
      CHECK(r.refused());
      CHECK(r.decided == 1);
    }
    // Three charged: a peek answers as for a fourth request, leaving one.
    CHECK(one(*l, free, "order-key", LimitMode::Peek).decisions[0].remaining == 1);

    // A refusal by the second check keeps the first one's charge.
    const LimitCheck rev[] = {{free, "order-key2"}, {ip, "order-addr"}};
    const auto r = l->decide(rev);
    CHECK(r.refused());
    CHECK(r.decided == 2);
    CHECK(r.decisions[0].allowed);
    CHECK(one(*l, free, "order-key2", LimitMode::Peek).decisions[0].remaining == 3);
  }

  SUBCASE("a peek in the middle records nothing, the charges around it do") {
    auto l = make(policies());
    const PolicyId ip = *l->find_policy("ip"), af = *l->find_policy("auth_fail"),
                   free = *l->find_policy("free");
    const LimitCheck checks[] = {
        {ip, "mid-addr"}, {af, "mid-addr", LimitMode::Peek}, {free, "mid-key"}};
    const auto r = l->decide(checks);
    REQUIRE(r.allowed());
    CHECK(r.decided == 3);
    CHECK(r.decisions[1].remaining == 19);  // what one more failure would leave
    CHECK(one(*l, af, "mid-addr", LimitMode::Peek).decisions[0].remaining == 19);
    CHECK(one(*l, ip, "mid-addr", LimitMode::Peek).decisions[0].remaining == 1);
  }

  SUBCASE("a budget refills with the backend's clock") {
    auto l = make(policies());
    const PolicyId strict = *l->find_policy("strict");
    REQUIRE(one(*l, strict, "refill").allowed());
    CHECK(one(*l, strict, "refill").refused());
    std::this_thread::sleep_for(std::chrono::milliseconds(520));  // T = 500 ms
    CHECK(one(*l, strict, "refill").allowed());
  }

  SUBCASE("too many checks for one call is a programming error") {
    auto l = make(policies());
    std::vector<LimitCheck> many(LimitResult::kMaxChecks + 1, LimitCheck{0, "x"});
    CHECK_THROWS_AS(l->decide(many), std::invalid_argument);
  }

  SUBCASE("concurrent charges of one client allow exactly its burst") {
    auto l = make(policies());
    const PolicyId free = *l->find_policy("free");
    std::atomic<int> allowed{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&] {
        for (int i = 0; i < 25; ++i)
          if (one(*l, free, "racer").allowed()) ++allowed;
      });
    for (auto& t : ts) t.join();
    CHECK(allowed.load() == 5);
  }

  SUBCASE("stats count every decision by policy and result") {
    auto l = make(policies());
    const PolicyId ip = *l->find_policy("ip");
    for (int i = 0; i < 5; ++i) one(*l, ip, "stats-client");
    const auto st = l->stats();
    REQUIRE(st.policies.size() == 4);
    CHECK(st.policies[ip].name == "ip");
    CHECK(st.policies[ip].allowed == 3);
    CHECK(st.policies[ip].refused == 2);
  }
}

}  // namespace mlgate::contract
