// limiter_contract.hpp: the behaviour every Limiter backend (limiter.hpp)
// must show, as one doctest suite run against each backend.
//
// A backend registers a factory with MLGATE_LIMITER_CONTRACT(Name, factory):
// the factory builds a fresh limiter, with no state from earlier cases,
// holding the policies it is given. The suite uses the backend's own clock
// (a shared backend's clock is not ours to move), so its policies are slow
// enough that the few milliseconds a case takes never refill a budget,
// except in the one case that waits on purpose.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <vector>

#include "limiter.hpp"

namespace mlgate::contract {

using LimiterFactory = std::function<std::unique_ptr<Limiter>(std::vector<RatePolicy>)>;

// Runs every case of the contract against `make`; called from the
// TEST_CASE that MLGATE_LIMITER_CONTRACT defines.
void run_limiter_contract(const LimiterFactory& make);

}  // namespace mlgate::contract

// One TEST_CASE per backend, with a SUBCASE per contract clause.
#define MLGATE_LIMITER_CONTRACT(NAME, FACTORY)                                \
  TEST_CASE("limiter contract: " NAME) { ::mlgate::contract::run_limiter_contract(FACTORY); }
// The same with doctest decorators, e.g. a skip for a backend whose server
// is not installed: MLGATE_LIMITER_CONTRACT_IF("redis", doctest::skip(b), f).
#define MLGATE_LIMITER_CONTRACT_IF(NAME, DECORATORS, FACTORY)                 \
  TEST_CASE("limiter contract: " NAME * DECORATORS) {                         \
    ::mlgate::contract::run_limiter_contract(FACTORY);                        \
  }
