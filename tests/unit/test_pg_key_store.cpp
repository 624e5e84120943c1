// The KeyStore on PostgreSQL: the contract suite against a real PostgreSQL
// 15, then what the shared store adds: a change on one instance reaches the
// others through the notification, without waiting for a refresh; serving
// goes on from memory while the database is down.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "../contract/key_store_contract.hpp"
#include "../e2e/harness_pg.hpp"

#if MLGATE_HAVE_LIBPQ
#include "clock.hpp"
#include "job_store.hpp"
#include "pg_key_store.hpp"
#endif

using namespace std::chrono_literals;

#if MLGATE_HAVE_LIBPQ
namespace mlgate {
namespace {

PgKeyStoreOptions key_options(const std::string& conninfo, bool serve, bool listen) {
  PgKeyStoreOptions o;
  o.pg.conninfo = conninfo;
  o.pg.connect_timeout = 2s;
  o.pg.query_timeout = 2s;
  o.serve = serve;
  o.listen = listen;
  return o;
}

// Serving handles without the listener: the contract checks that
// refresh() reports a change, which a listener would have taken first.
struct PgKeyBackend : contract::KeyStoreBackend {
  std::string conninfo = test::PgServer::shared().conninfo(test::PgServer::shared().create_database());
  std::unique_ptr<KeyStore> open_admin() override {
    return std::make_unique<PgKeyStore>(key_options(conninfo, false, false));
  }
  std::unique_ptr<KeyStore> open_server() override {
    return std::make_unique<PgKeyStore>(key_options(conninfo, true, false));
  }
};

KeyCreateOptions named(const std::string& name) {
  KeyCreateOptions o;
  o.name = name;
  return o;
}

template <class P>
bool eventually(P pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

}  // namespace

MLGATE_KEY_STORE_CONTRACT_IF("postgresql", test::needs_pg(), [] { return std::make_unique<PgKeyBackend>(); })

TEST_CASE("postgresql key store: a revocation reaches every instance within a second, "
          "without a refresh" * test::needs_pg()) {
  const std::string ci = test::PgServer::shared().conninfo(test::PgServer::shared().create_database());
  PgKeyStore admin(key_options(ci, false, false));
  PgKeyStore a(key_options(ci, true, true)), b(key_options(ci, true, true));
  auto nk = admin.create(named("alice"), wall_ms());
  REQUIRE(a.authenticate(nk.key, wall_ms()));
  REQUIRE(b.authenticate(nk.key, wall_ms()));
  std::this_thread::sleep_for(200ms);  // both listening
  const auto t = std::chrono::steady_clock::now();
  REQUIRE(admin.revoke(nk.record.id, wall_ms()));
  // Neither instance calls refresh(): only the notification can tell them.
  CHECK(eventually([&] { return !a.authenticate(nk.key, wall_ms()) && !b.authenticate(nk.key, wall_ms()); },
                   1000ms));
  MESSAGE("revocation held on both instances after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count()
          << " ms");
  // A rotation too: the new key works at once, the old one ends with a zero grace.
  auto k2 = admin.create(named("bob"), wall_ms());
  REQUIRE(a.authenticate(k2.key, wall_ms()));
  auto rotated = admin.rotate(k2.record.id, 0, wall_ms());
  REQUIRE(rotated);
  CHECK(b.authenticate(rotated->key, wall_ms()));
  CHECK(eventually([&] { return !a.authenticate(k2.key, wall_ms()); }, 1000ms));
}

TEST_CASE("postgresql key store: serving goes on from memory while the database is down" * test::needs_pg()) {
  test::PgServer pg;
  const std::string ci = pg.conninfo(pg.create_database());
  PgKeyStore admin(key_options(ci, false, false));
  auto nk = admin.create(named("alice"), wall_ms());
  PgKeyStore server(key_options(ci, true, true));
  REQUIRE(server.authenticate(nk.key, wall_ms()));
  pg.stop();
  const auto t = std::chrono::steady_clock::now();
  CHECK(server.authenticate(nk.key, wall_ms()));
  CHECK_FALSE(server.authenticate("mlg_" + std::string(38, 'a'), wall_ms()));  // a miss: refused, not hung
  CHECK_THROWS_AS(admin.create(named("bob"), wall_ms()), StorageUnavailable);
  CHECK_THROWS_AS(server.refresh(), StorageUnavailable);
  CHECK(std::chrono::steady_clock::now() - t < 5s);
  pg.start();
  // Back: a key created now works on its first request.
  auto later = eventually([&] {
    try {
      auto k = admin.create(named("carol"), wall_ms());
      return server.authenticate(k.key, wall_ms()) != nullptr;
    } catch (const StorageUnavailable&) {
      return false;
    }
  }, 10s);
  CHECK(later);
}

}  // namespace mlgate
#endif
