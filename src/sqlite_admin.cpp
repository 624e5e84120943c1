// sqlite_admin.cpp: see sqlite_admin.hpp.
#include "sqlite_admin.hpp"

#include "db.hpp"
#include "sqlite_job_store.hpp"
#include "sqlite_key_store.hpp"

namespace mlgate {

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
