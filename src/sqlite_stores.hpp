// sqlite_stores.hpp: the stores on an SQLite data file, as the server and
// the admin CLI open them. The one place that names the SQLite
// implementations: a shared database would add its own opening here.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "job_store.hpp"
#include "key_store.hpp"
#include "limiter_state.hpp"

namespace mlgate {

struct ServerStores {
  std::unique_ptr<JobStore> jobs;
  std::unique_ptr<KeyStore> keys;
  // The embedded limiter's saved table, written through the job store's
  // writer (one writer per file): destroyed before jobs.
  std::unique_ptr<LimiterStateStore> limiter_state;
};

// The server's stores on the file at `path` (already checked and migrated
// or creatable): jobs with their bound and attempts, keys served from memory
// with the change signal. Recovery is left to the caller (JobStore::recover).
// Throws DbError.
ServerStores open_sqlite_server(const std::string& path, size_t queue_max, int max_attempts);

struct AdminStores {
  std::unique_ptr<JobStore> jobs;
  std::unique_ptr<KeyStore> keys;
};

// The file exists but no mlgate ever wrote a schema into it.
struct NotAnMlgateDatabase : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Opens `path` (which the caller has checked; a missing one is created) and
// migrates its schema. Unlike the server's stores: no recovery of running
// jobs (the server's own), no key cache or signal file, and the WAL is left
// to the server (no checkpoint at close). Throws NotAnMlgateDatabase when
// `existed` and the file has no schema version, DbError when it cannot be
// opened.
AdminStores open_sqlite_admin(const std::string& path, bool existed);

}  // namespace mlgate
