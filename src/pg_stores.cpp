#include "pg_stores.hpp"

#include "pg_conn.hpp"
#include "pg_job_store.hpp"
#include "pg_key_store.hpp"
#include "pg_schema.hpp"

namespace mlgate {
namespace {

PgOptions pg_options(const std::string& url) {
  PgOptions o;
  o.conninfo = url;
  // Bounded waits: a request never waits on the database longer than
  // this, and an unreachable one is refused within the connect timeout.
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.query_timeout = std::chrono::milliseconds(5000);
  return o;
}

}  // namespace

ServerStores open_pg_server(const std::string& url, size_t queue_max, int max_attempts,
                            int64_t lease_ms, size_t pool_size) {
  ServerStores s;
  PgJobStoreOptions jo;
  jo.pg = pg_options(url);
  jo.queue_max = queue_max;
  jo.max_attempts = max_attempts;
  jo.lease_ms = lease_ms;
  jo.pool_size = pool_size;
  s.jobs = std::make_unique<PgJobStore>(jo);
  s.keys = std::make_unique<PgKeyStore>(PgKeyStoreOptions{pg_options(url), true, true});
  return s;
}

AdminStores open_pg_admin(const std::string& url, bool init) {
  {
    PgConn c(pg_options(url));
    if (!init && pg_schema_version(c) == 0)
      throw NotAnMlgateDatabase("the database has no mlgate schema");
  }
  AdminStores s;
  PgJobStoreOptions jo;
  jo.pg = pg_options(url);
  jo.serve = false;
  jo.pool_size = 1;
  s.jobs = std::make_unique<PgJobStore>(jo);
  s.keys = std::make_unique<PgKeyStore>(PgKeyStoreOptions{pg_options(url), false, false});
  return s;
}

}  // namespace mlgate
