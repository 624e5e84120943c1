// job_store_contract.hpp: the behaviour every JobStore (job_store.hpp) must
// show, as one doctest suite run against each implementation.
//
// A backend registers with MLGATE_JOB_STORE_CONTRACT(Name, factory): the
// factory makes a fresh, empty database for one subcase and returns a
// JobStoreBackend on it, whose open() gives any number of handles on that
// database. Two handles stand for two processes sharing the store (the
// exclusivity and crash-recovery clauses use them); a handle destroyed
// without finishing its claimed jobs is a process that died.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include "job_store.hpp"

namespace mlgate::contract {

struct JobStoreLimits {
  size_t queue_max = 1000;
  int max_attempts = 3;
};

class JobStoreBackend {
 public:
  virtual ~JobStoreBackend() = default;
  // A new handle on this backend's database.
  virtual std::unique_ptr<JobStore> open(const JobStoreLimits& limits) = 0;
  // Called after a handle died holding running jobs, before another
  // handle's recover(): a store that leases jobs waits out the lease here.
  virtual void after_crash() {}
};

using JobStoreBackendFactory = std::function<std::unique_ptr<JobStoreBackend>()>;

void run_job_store_contract(const JobStoreBackendFactory& make);

}  // namespace mlgate::contract

#define MLGATE_JOB_STORE_CONTRACT(NAME, FACTORY) \
  TEST_CASE("job store contract: " NAME) { ::mlgate::contract::run_job_store_contract(FACTORY); }
#define MLGATE_JOB_STORE_CONTRACT_IF(NAME, DECORATORS, FACTORY)   \
  TEST_CASE("job store contract: " NAME * DECORATORS) {           \
    ::mlgate::contract::run_job_store_contract(FACTORY);          \
  }
