// sqlite_admin.hpp: the stores on an SQLite data file as the admin CLI
// opens them, beside a server that may be running on the same file.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "job_store.hpp"
#include "key_store.hpp"

namespace mlgate {

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
