// key_snapshot.cpp: see key_snapshot.hpp.
#include "key_snapshot.hpp"

#include <algorithm>
#include <utility>

#include "api_key.hpp"
#include "clock.hpp"

namespace mlgate {

KeySnapshot::KeySnapshot() : map_(std::make_shared<const Table>()) {}

// Timing: a refusal must not tell the client how its key was wrong. What
// each refusal costs, and why the differences that remain reveal nothing:
// - Every presented value, missing, malformed or well-formed, goes through
//   check_format() (constant time over a fixed 42-byte copy) and one SHA-256.
// - A malformed or wrong-checksum value stops there, before the map (and so
//   never touches storage). Its shorter path tells the client only that the
//   format or checksum was wrong, which it can compute itself: the format
//   and CRC-32 are public and carry no secret.
// - A well-formed value is looked up by its SHA-256. The guesser cannot
//   steer the hash's bits, so the path of the binary search and the byte
//   comparisons of the 32-byte hashes say nothing about how close the guess
//   was to a key.
// - Unknown, revoked and expired keys take one path: a lookup, a
//   miss-refresh, a second lookup. (Before this, a revoked or expired key
//   was refused straight after the first lookup while an unknown one could
//   pay for a database read, so timing told "this key exists but is
//   revoked" from "no such key".)
// - The miss-refresh is the one storage touch on the request path, and the
//   stores bound it: at most one read of the key table's generation per
//   10 ms for the whole server (a miss that comes sooner waits for it),
//   plus a reload only when the key table changed (the SQLite store first
//   asks data_version, which costs no I/O). What a given request pays
//   therefore depends on other traffic, on the clock and on key changes,
//   never on the key presented: the most a client can learn from it is that
//   something was committed a moment ago. A flood of guesses costs at most
//   100 generation reads a second, and the server's failed-key budget per
//   address stops the flood first.
std::shared_ptr<const KeyRecord> KeySnapshot::authenticate(
    std::string_view presented, int64_t now_ms, const std::function<void(int64_t)>& refresh_for_miss) {
  const bool well_formed = check_format(presented);
  const KeyHash h = sha256(presented);
  hashes_.fetch_add(1, std::memory_order_relaxed);
  if (!well_formed) return nullptr;  // refused without consulting the keys
  const int64_t arrived_ns = mono_ns();
  auto rec = find_active(h, now_ms);
  if (!rec) {
    // Perhaps created a moment ago (by the CLI, or on another instance):
    // look again once the map holds every key committed before this call.
    refresh_for_miss(arrived_ns);
    rec = find_active(h, now_ms);
    if (!rec) return nullptr;
  }
  std::lock_guard lock(used_mu_);
  used_[rec->id] = now_ms;
  return rec;
}

std::shared_ptr<const KeyRecord> KeySnapshot::find_active(const KeyHash& h, int64_t now_ms) {
  lookups_.fetch_add(1, std::memory_order_relaxed);
  auto map = current();
  const Entry* e = find(*map, h);
  if (!e || !e->record->active_at(now_ms)) return nullptr;
  return e->record;
}

const KeySnapshot::Entry* KeySnapshot::find(const Table& t, const KeyHash& h) {
  auto it = std::lower_bound(t.begin(), t.end(), h, [](const Entry& e, const KeyHash& k) { return e.hash < k; });
  return it != t.end() && it->hash == h ? &*it : nullptr;
}

std::shared_ptr<const KeySnapshot::Table> KeySnapshot::current() const {
  std::lock_guard lock(map_mu_);
  return map_;
}

// Room for the current keys and a few more: a change adds keys a few at a
// time, so the table is allocated once per reload and never shrunk by a copy.
KeySnapshot::Builder::Builder(const KeySnapshot& from) : base_(from.current()) {
  next_.reserve(base_->size() + 64);
}

void KeySnapshot::Builder::add(const KeyHash& hash, KeyRecord record) {
  if (record.revoked_at) return;
  record.last_used_at.reset();
  const Entry* old = find(*base_, hash);
  if (old && *old->record == record) {
    next_.push_back({hash, old->record});
    ++shared_;
  } else {
    next_.push_back({hash, std::make_shared<const KeyRecord>(std::move(record))});
  }
}

void KeySnapshot::replace(Builder&& next) {
  Table& t = next.next_;
  // Stable, so that of two rows with one hash the last added comes last.
  std::stable_sort(t.begin(), t.end(), [](const Entry& a, const Entry& b) { return a.hash < b.hash; });
  auto last = std::unique(t.rbegin(), t.rend(), [](const Entry& a, const Entry& b) { return a.hash == b.hash; });
  t.erase(t.begin(), last.base());
  auto table = std::make_shared<const Table>(std::move(t));
  next.base_.reset();
  std::shared_ptr<const Table> old;  // destroyed after the lock is released
  std::lock_guard lock(map_mu_);
  old = std::exchange(map_, std::move(table));
}

size_t KeySnapshot::size() const { return current()->size(); }

std::vector<std::string> KeySnapshot::active_outside(const std::map<std::string, std::string>& tiers,
                                                     int64_t now_ms) const {
  std::vector<std::string> out;
  for (const auto& [hash, rec] : *current())
    if (rec->active_at(now_ms) && !tiers.count(rec->tier)) out.push_back(rec->id + " (" + rec->tier + ")");
  std::sort(out.begin(), out.end());
  return out;
}

void KeySnapshot::flush_used(const std::function<void(const UsedBatch&)>& write) {
  UsedBatch batch;
  {
    std::lock_guard lock(used_mu_);
    batch.swap(used_);
  }
  if (batch.empty()) return;
  try {
    write(batch);
  } catch (...) {
    std::lock_guard lock(used_mu_);
    for (const auto& [id, when] : batch) {
      auto [it, fresh] = used_.emplace(id, when);
      if (!fresh && it->second < when) it->second = when;
    }
    throw;
  }
}

}  // namespace mlgate
