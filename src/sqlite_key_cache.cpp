// sqlite_key_cache.cpp: see sqlite_key_cache.hpp.
#include "sqlite_key_cache.hpp"

#include <algorithm>
#include <cstring>
#include <thread>
#include <utility>

#include "clock.hpp"
#include "sqlite_key_store.hpp"

namespace mlgate {

KeyCache::KeyCache(const std::string& db_path, bool change_signal) : db_(Db::open(db_path)) {
  data_version_stmt_ = db_.prepare("PRAGMA data_version");
  if (change_signal) signal_ = KeySignal::open(db_path);
  refresh();
}

// The timing note in key_snapshot.cpp says why every refusal of a
// well-formed key takes this one path.
std::shared_ptr<const KeyRecord> KeyCache::authenticate(std::string_view presented,
                                                        int64_t now_ms) {
  return keys_.authenticate(presented, now_ms, [this](int64_t arrived_ns) {
    try {
      refresh_for_miss(arrived_ns);
    } catch (const DbError&) {
      // The maintenance thread's next refresh reports it; the key is refused.
    }
  });
}

// A miss used to try a refresh only if none had run for 10 ms, and else
// gave up: a key created in the 10 ms after another client's wrong key was
// refused on its first request. Now a miss never gives up. The CLI bumps
// the signal after committing a key and prints the key after that, so a
// request carrying a new key finds the signal moved; while it has not
// moved, every miss (a flood of wrong keys included) costs one load. When
// it has, the miss waits, for an in-flight refresh (the lock) or for the
// throttle, until a check that began after it has completed.
void KeyCache::refresh_for_miss(int64_t arrived_ns) {
  if (signal_ && signal_->read() == signal_seen_.load(std::memory_order_acquire)) return;
  std::unique_lock lock(db_mu_);
  for (;;) {
    if (last_check_ns_ >= arrived_ns) return;  // someone checked since this call began
    const int64_t now = mono_ns();
    const uint64_t sig = signal_value();
    if (signal_ && sig == signal_seen_.load(std::memory_order_relaxed)) return;
    const int64_t dv = data_version();
    if (dv == data_version_) {  // no commit since the last check
      last_check_ns_ = now;
      signal_seen_.store(sig, std::memory_order_release);
      return;
    }
    const int64_t due = last_read_ns_ == INT64_MIN ? now : last_read_ns_ + kMissRefreshNs;
    if (now >= due) {
      read_generation(dv, now, sig);
      return;
    }
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
    lock.lock();
  }
}

bool KeyCache::refresh() {
  std::unique_lock lock(db_mu_, std::try_to_lock);
  if (!lock) return false;
  const int64_t now = mono_ns();
  const uint64_t sig = signal_value();
  const int64_t dv = data_version();
  if (dv == data_version_) {
    last_check_ns_ = now;
    signal_seen_.store(sig, std::memory_order_release);
    return false;
  }
  return read_generation(dv, now, sig);
}

int64_t KeyCache::data_version() {
  // Changes only when another connection commits; read from the WAL index
  // in shared memory, no I/O.
  data_version_reads_.fetch_add(1, std::memory_order_relaxed);
  StmtGuard guard{data_version_stmt_};
  return data_version_stmt_.step() ? data_version_stmt_.i64(0) : 0;
}

bool KeyCache::read_generation(int64_t dv, int64_t started_ns, uint64_t sig) {
  last_read_ns_ = started_ns;
  generation_reads_.fetch_add(1, std::memory_order_relaxed);
  Stmt st = db_.prepare("SELECT value FROM meta WHERE key = 'keys_generation'");
  const int64_t gen = st.step() ? st.i64(0) : 0;
  st = Stmt();  // ends the read transaction before the reload's
  const bool changed = gen != generation_;
  if (changed) reload();  // may throw: then nothing below is recorded
  generation_ = gen;
  data_version_ = dv;
  // Only now: a miss that finds last_check_ns_ >= its arrival, or the
  // signal at `sig`, relies on the snapshot being complete.
  last_check_ns_ = started_ns;
  signal_seen_.store(sig, std::memory_order_release);
  return changed;
}

void KeyCache::reload() {
  KeySnapshot::Builder next(keys_);
  Stmt st = db_.prepare(kSelectKeys);
  while (st.step()) {
    KeyHash h{};
    auto hv = st.blob_view(10);
    if (hv.size() != h.size()) continue;  // not a SHA-256: cannot match any key
    std::memcpy(h.data(), hv.data(), h.size());
    next.add(h, read_key_record(st));
  }
  keys_.replace(std::move(next));
}

void KeyCache::flush_last_used() {
  std::lock_guard db_lock(db_mu_);
  // A busy or failing database loses nothing: the batch goes back for the
  // next flush (KeySnapshot::flush_used).
  keys_.flush_used([&](const KeySnapshot::UsedBatch& batch) {
    Tx tx(db_);
    Stmt st = db_.prepare(
        "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) "
        "WHERE id = ?");
    for (const auto& [id, when] : batch) {
      st.bind(1, when).bind(2, id);
      st.run();
    }
    tx.commit();
  });
}

}  // namespace mlgate
