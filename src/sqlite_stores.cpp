// sqlite_stores.cpp: see sqlite_stores.hpp.
#include "sqlite_stores.hpp"

#include "db.hpp"
#include "sqlite_job_store.hpp"
#include "sqlite_key_store.hpp"
#include "sqlite_limiter_state.hpp"

namespace mlgate {

ServerStores open_sqlite_server(const std::string& path, size_t queue_max, int max_attempts) {
  ServerStores s;
  auto jobs = std::make_unique<SqliteJobStore>(JobStoreOptions{path, queue_max, max_attempts});
  s.limiter_state = std::make_unique<SqliteLimiterState>(path, jobs->writer());
  s.jobs = std::move(jobs);
  s.keys = std::make_unique<SqliteKeyStore>(KeyStoreOptions{path});
  return s;
}

AdminStores open_sqlite_admin(const std::string& path, bool existed) {
  if (existed) {
    Db db = Db::open(path);
    if (db.pragma_int("user_version") == 0) throw NotAnMlgateDatabase("no schema");
  }
  AdminStores s;
  JobStoreOptions jo;
  jo.path = path;
  jo.checkpoint_at_close = false;
  s.jobs = std::make_unique<SqliteJobStore>(std::move(jo));  // migrates
  KeyStoreOptions ko;
  ko.path = path;
  ko.serve = false;
  s.keys = std::make_unique<SqliteKeyStore>(std::move(ko));
  return s;
}

}  // namespace mlgate
