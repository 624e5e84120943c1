// sqlite_key_cache.cpp: see sqlite_key_cache.hpp.
#include "sqlite_key_cache.hpp"

#include <algorithm>
#include <thread>
#include <utility>

#include "clock.hpp"
#include "sqlite_key_store.hpp"

namespace mlgate {

KeyCache::KeyCache(const std::string& db_path, bool change_signal)
    : db_(Db::open(db_path)), snapshot_(std::make_shared<const Map>()) {
  data_version_stmt_ = db_.prepare("PRAGMA data_version");
  if (change_signal) signal_ = KeySignal::open(db_path);
  refresh();
}

// Timing: a refusal must not tell the client how its key was wrong. What
// each refusal costs, and why the differences that remain reveal nothing:
// - Every presented value, missing, malformed or well-formed, goes through
//   check_format() (constant time over a fixed 42-byte copy) and one SHA-256.
// - A malformed or wrong-checksum value stops there, before the snapshot
//   (and so never touches storage). Its shorter path tells the client only
//   that the format or checksum was wrong, which it can compute itself: the
//   format and CRC-32 are public and carry no secret.
// - A well-formed value is looked up by its SHA-256. The guesser cannot
//   steer the hash's bits, so the bucket chosen and the byte comparison of
//   the 32-byte hashes say nothing about how close the guess was to a key.
// - Unknown, revoked and expired keys take one path: a lookup, a
//   miss-refresh, a second lookup. (Before this, a revoked or expired key
//   was refused straight after the first lookup while an unknown one could
//   pay for a database read, so timing told "this key exists but is
//   revoked" from "no such key".)
// - The miss-refresh is the one database touch on the request path: a
//   data_version read (no I/O), plus, when anything was committed since the
//   last check, a generation read at most once per kMissRefreshNs for the
//   whole server (a miss that comes sooner waits for it), plus a reload
//   only when the key table changed. What a given request pays therefore
//   depends on other traffic, on the clock and on CLI activity, never on
//   the key presented: the most a client can learn from it is that
//   something was committed a moment ago. A flood of guesses costs at most
//   100 generation reads a second, and the server's failed-key budget per
//   address stops the flood first.
std::shared_ptr<const KeyRecord> KeyCache::authenticate(std::string_view presented,
                                                        int64_t now_ms) {
  bool well_formed = check_format(presented);
  KeyHash h = sha256(presented);
  hashes_.fetch_add(1, std::memory_order_relaxed);
  if (!well_formed) return nullptr;  // refused without consulting the keys
  const int64_t arrived_ns = mono_ns();
  auto rec = find_active(h, now_ms);
  if (!rec) {
    // Perhaps created a moment ago by the CLI: look again once the
    // snapshot holds every key committed before this call.
    try {
      refresh_for_miss(arrived_ns);
    } catch (const DbError&) {
      // The maintenance thread's next refresh reports it; the key is refused.
    }
    rec = find_active(h, now_ms);
    if (!rec) return nullptr;
  }
  {
    std::lock_guard lock(used_mu_);
    used_[rec->id] = now_ms;
  }
  return rec;
}

std::shared_ptr<const KeyRecord> KeyCache::find_active(const KeyHash& h, int64_t now_ms) {
  lookups_.fetch_add(1, std::memory_order_relaxed);
  auto snap = snapshot();
  auto it = snap->find(h);
  if (it == snap->end() || !it->second->active_at(now_ms)) return nullptr;
  return it->second;
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
  auto map = std::make_shared<Map>();
  Stmt st = db_.prepare(kSelectKeys);
  while (st.step()) {
    KeyHash h{};
    auto hv = st.blob_view(10);
    if (hv.size() != h.size()) continue;  // not a SHA-256: cannot match any key
    std::memcpy(h.data(), hv.data(), h.size());
    (*map)[h] = std::make_shared<const KeyRecord>(read_key_record(st));
  }
  std::shared_ptr<const Map> old;  // freed outside the lock
  std::lock_guard lock(snapshot_mu_);
  old = std::exchange(snapshot_, std::move(map));
}

std::shared_ptr<const KeyCache::Map> KeyCache::snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

void KeyCache::flush_last_used() {
  std::lock_guard db_lock(db_mu_);
  std::unordered_map<std::string, int64_t> batch;
  {
    std::lock_guard lock(used_mu_);
    batch.swap(used_);
  }
  if (batch.empty()) return;
  try {
    Tx tx(db_);
    Stmt st = db_.prepare(
        "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) "
        "WHERE id = ?");
    for (auto& [id, when] : batch) {
      st.bind(1, when).bind(2, id);
      st.run();
    }
    tx.commit();
  } catch (...) {
    // A busy or failing database must not lose the batch: put it back for
    // the next flush, keeping the later time where a key was used since.
    std::lock_guard lock(used_mu_);
    for (auto& [id, when] : batch) {
      auto [it, fresh] = used_.emplace(id, when);
      if (!fresh && it->second < when) it->second = when;
    }
    throw;
  }
}

size_t KeyCache::size() const { return snapshot()->size(); }

std::vector<std::string> KeyCache::active_outside(const std::map<std::string, std::string>& tiers,
                                                  int64_t now_ms) const {
  return keys_outside_tiers(*snapshot(), tiers, now_ms);
}

}  // namespace mlgate
