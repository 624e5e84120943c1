// Unit tests for key_snapshot.hpp, the serving half both key stores share:
// which refusals consult the store's miss refresh, and that a failed write
// of the last-use times loses none of them. (The stores' own tests and the
// key store contract cover the same behaviour through SQLite and
// PostgreSQL.)
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "api_key.hpp"
#include "key_snapshot.hpp"

using namespace mlgate;

namespace {

constexpr int64_t T0 = 1'800'000'000'000;  // an arbitrary wall time, ms

NewKey new_key(const std::string& name, std::optional<int64_t> expires_in = std::nullopt) {
  KeyCreateOptions o;
  o.name = name;
  o.expires_in_ms = expires_in;
  return make_new_key(o, T0);
}

// Replaces snap's table with these keys, as a store's reload does.
size_t load(KeySnapshot& snap, std::initializer_list<NewKey> keys) {
  KeySnapshot::Builder next(snap);
  for (const NewKey& k : keys) next.add(sha256(k.key), k.record);
  const size_t shared = next.shared();
  snap.replace(std::move(next));
  return shared;
}

}  // namespace

TEST_CASE("KeySnapshot: a malformed key is refused without a lookup or a refresh") {
  KeySnapshot snap;
  int refreshes = 0;
  const auto count = [&](int64_t) { ++refreshes; };
  for (const std::string& bad : std::initializer_list<std::string>{"", "mlg_short", std::string(42, 'x')}) {
    CHECK(snap.authenticate(bad, T0, count) == nullptr);
  }
  std::string wrong_checksum = generate_api_key();
  wrong_checksum.back() = wrong_checksum.back() == 'a' ? 'b' : 'a';
  CHECK(snap.authenticate(wrong_checksum, T0, count) == nullptr);
  CHECK(refreshes == 0);
  CHECK(snap.lookups() == 0);
  CHECK(snap.hashes() == 4);  // every presented value is hashed all the same
}

TEST_CASE("KeySnapshot: unknown, revoked and expired keys take the same path") {
  NewKey revoked = new_key("revoked"), expiring = new_key("expiring", 1000), good = new_key("good");
  revoked.record.revoked_at = T0;
  KeySnapshot snap;
  load(snap, {expiring, good, revoked});

  const std::string unknown = generate_api_key();
  for (const std::string* key : std::initializer_list<const std::string*>{&unknown, &revoked.key, &expiring.key}) {
    const uint64_t lookups = snap.lookups();
    int refreshes = 0;
    CHECK(snap.authenticate(*key, T0 + 1000, [&](int64_t) { ++refreshes; }) == nullptr);
    CHECK(refreshes == 1);
    CHECK(snap.lookups() - lookups == 2);
  }
  int refreshes = 0;
  auto rec = snap.authenticate(good.key, T0 + 1000, [&](int64_t) { ++refreshes; });
  REQUIRE(rec != nullptr);
  CHECK(rec->id == good.record.id);
  CHECK(refreshes == 0);
}

TEST_CASE("KeySnapshot: a key the miss refresh brings in is accepted on that same call") {
  KeySnapshot snap;
  const NewKey k = new_key("fresh");
  auto rec = snap.authenticate(k.key, T0, [&](int64_t) { load(snap, {k}); });
  REQUIRE(rec != nullptr);
  CHECK(rec->id == k.record.id);
  CHECK(snap.size() == 1);
}

TEST_CASE("KeySnapshot: a failed write of the last-use times loses none of them") {
  const NewKey a = new_key("a"), b = new_key("b");
  KeySnapshot snap;
  load(snap, {a, b});
  const auto none = [](int64_t) {};
  REQUIRE(snap.authenticate(a.key, T0 + 10, none));
  REQUIRE(snap.authenticate(b.key, T0 + 20, none));

  // The write fails after a is used again: the later time must win.
  CHECK_THROWS_AS(snap.flush_used([&](const KeySnapshot::UsedBatch& batch) {
    CHECK(batch.size() == 2);
    REQUIRE(snap.authenticate(a.key, T0 + 30, none));
    throw std::runtime_error("disk full");
  }), std::runtime_error);

  KeySnapshot::UsedBatch written;
  snap.flush_used([&](const KeySnapshot::UsedBatch& batch) { written = batch; });
  CHECK(written.size() == 2);
  CHECK(written.at(a.record.id) == T0 + 30);
  CHECK(written.at(b.record.id) == T0 + 20);

  int calls = 0;
  snap.flush_used([&](const KeySnapshot::UsedBatch&) { ++calls; });
  CHECK(calls == 0);  // nothing left: an empty batch is not written
}

TEST_CASE("KeySnapshot: active_outside lists active keys of unknown tiers, sorted") {
  NewKey x = new_key("x"), y = new_key("y"), z = new_key("z", 5);
  x.record.tier = "gold";
  y.record.tier = "free";
  z.record.tier = "gold";  // expires at T0 + 5
  KeySnapshot snap;
  load(snap, {x, y, z});
  CHECK(snap.active_outside({{"free", ""}}, T0) ==
        std::vector<std::string>{std::min(x.record.id, z.record.id) + " (gold)",
                                 std::max(x.record.id, z.record.id) + " (gold)"});
  CHECK(snap.active_outside({{"free", ""}}, T0 + 5) == std::vector<std::string>{x.record.id + " (gold)"});
  CHECK(snap.active_outside({{"free", ""}, {"gold", ""}}, T0).empty());
}

TEST_CASE("KeySnapshot: a reload shares the records that did not change") {
  NewKey a = new_key("a"), b = new_key("b"), c = new_key("c");
  KeySnapshot snap;
  CHECK(load(snap, {a, b}) == 0);
  const auto none = [](int64_t) {};
  const auto a1 = snap.authenticate(a.key, T0, none), b1 = snap.authenticate(b.key, T0, none);
  REQUIRE(a1);
  REQUIRE(b1);

  // a only used since (a last-use time is not a change), b moved to another
  // tier, c new: one record shared, two made.
  a.record.last_used_at = T0 + 5;
  b.record.tier = "gold";
  CHECK(load(snap, {a, b, c}) == 1);
  CHECK(snap.authenticate(a.key, T0, none) == a1);  // the same record, not a copy
  const auto b2 = snap.authenticate(b.key, T0, none);
  REQUIRE(b2);
  CHECK(b2 != b1);
  CHECK(b2->tier == "gold");
  CHECK(b1->tier == "free");  // a caller still holding the old record keeps it whole
  CHECK(snap.authenticate(c.key, T0, none));
  CHECK_FALSE(snap.authenticate(a.key, T0, none)->last_used_at);
  CHECK(snap.size() == 3);
}

TEST_CASE("KeySnapshot: revoked keys are left out of the table, and a reload drops a key revoked since") {
  NewKey a = new_key("a"), b = new_key("b");
  b.record.revoked_at = T0 - 1;
  KeySnapshot snap;
  load(snap, {a, b});
  CHECK(snap.size() == 1);
  a.record.revoked_at = T0;
  load(snap, {a, b});
  CHECK(snap.size() == 0);
  int refreshes = 0;
  CHECK(snap.authenticate(a.key, T0, [&](int64_t) { ++refreshes; }) == nullptr);
  CHECK(refreshes == 1);  // the path of an unknown key
}

TEST_CASE("KeySnapshot: of two rows with one hash the last added wins, and every key is found") {
  std::vector<NewKey> keys;
  for (int i = 0; i < 300; ++i) keys.push_back(new_key("k" + std::to_string(i)));
  KeySnapshot snap;
  {
    KeySnapshot::Builder next(snap);
    for (const NewKey& k : keys) next.add(sha256(k.key), k.record);
    KeyRecord other = keys[7].record;
    other.tier = "gold";
    next.add(sha256(keys[7].key), other);
    snap.replace(std::move(next));
  }
  CHECK(snap.size() == keys.size());
  const auto none = [](int64_t) {};
  for (const NewKey& k : keys) {
    auto rec = snap.authenticate(k.key, T0, none);
    REQUIRE(rec);
    CHECK(rec->id == k.record.id);
  }
  CHECK(snap.authenticate(keys[7].key, T0, none)->tier == "gold");
}
