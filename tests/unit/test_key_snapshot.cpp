// Unit tests for key_snapshot.hpp, the serving half both key stores share:
// which refusals consult the store's miss refresh, and that a failed write
// of the last-use times loses none of them. (The stores' own tests and the
// key store contract cover the same behaviour through SQLite and
// PostgreSQL.)
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>

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

std::shared_ptr<const KeySnapshot::Map> map_of(std::initializer_list<NewKey> keys) {
  auto m = std::make_shared<KeySnapshot::Map>();
  for (const NewKey& k : keys) (*m)[sha256(k.key)] = std::make_shared<const KeyRecord>(k.record);
  return m;
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
  KeyRecord r = revoked.record;
  r.revoked_at = T0;
  auto m = std::make_shared<KeySnapshot::Map>(*map_of({expiring, good}));
  (*m)[sha256(revoked.key)] = std::make_shared<const KeyRecord>(r);
  KeySnapshot snap;
  snap.replace(m);

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
  auto rec = snap.authenticate(k.key, T0, [&](int64_t) { snap.replace(map_of({k})); });
  REQUIRE(rec != nullptr);
  CHECK(rec->id == k.record.id);
  CHECK(snap.size() == 1);
}

TEST_CASE("KeySnapshot: a failed write of the last-use times loses none of them") {
  const NewKey a = new_key("a"), b = new_key("b");
  KeySnapshot snap;
  snap.replace(map_of({a, b}));
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
  snap.replace(map_of({x, y, z}));
  CHECK(snap.active_outside({{"free", ""}}, T0) ==
        std::vector<std::string>{std::min(x.record.id, z.record.id) + " (gold)",
                                 std::max(x.record.id, z.record.id) + " (gold)"});
  CHECK(snap.active_outside({{"free", ""}}, T0 + 5) == std::vector<std::string>{x.record.id + " (gold)"});
  CHECK(snap.active_outside({{"free", ""}, {"gold", ""}}, T0).empty());
}
