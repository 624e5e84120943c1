// pg_stores.hpp: the stores on a PostgreSQL database, as the server and the
// admin CLI open them (the PostgreSQL counterpart of sqlite_stores.hpp).
// Only in a build with libpq (MLGATE_HAVE_LIBPQ).
#pragma once

#include <string>

#include "sqlite_stores.hpp"  // ServerStores, AdminStores, NotAnMlgateDatabase

namespace mlgate {

// The server's stores on the database at `url` (postgresql://...):
// migrated (under the advisory lock), jobs with their bound, attempts and
// lease, keys served from memory and reloaded on change notifications.
// No limiter state (the embedded limiter's table is per instance and is
// not saved; --redis shares limits). Throws PgSchemaTooNew or
// StorageUnavailable.
ServerStores open_pg_server(const std::string& url, size_t queue_max, int max_attempts,
                            int64_t lease_ms, size_t pool_size);

// Management handles for the admin CLI. A database without mlgate's schema
// is refused (NotAnMlgateDatabase) unless `init`: the CLI never makes an
// empty mlgate database where the server has none.
AdminStores open_pg_admin(const std::string& url, bool init);

}  // namespace mlgate
