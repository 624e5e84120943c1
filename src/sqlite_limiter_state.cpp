// sqlite_limiter_state.cpp: see sqlite_limiter_state.hpp.
#include "sqlite_limiter_state.hpp"

#include "clock.hpp"
#include "db.hpp"

namespace mlgate {

std::optional<std::string> SqliteLimiterState::load_limiter_state() {
  Db db = Db::open(db_path_, true);
  Stmt st = db.prepare("SELECT data FROM limiter_state WHERE id = 1");
  if (!st.step()) return std::nullopt;
  return std::string(st.blob_view(0));
}

void SqliteLimiterState::save_limiter_state(std::string_view blob) {
  writer_.run([&](CachedDb& c) {
    c.db().prepare("INSERT INTO limiter_state (id, saved_at, data) VALUES (1, ?, ?) "
               "ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, data = excluded.data")
        .bind(1, wall_ms())
        .bind_blob(2, blob.data(), blob.size())
        .run();
  });
}

}  // namespace mlgate
