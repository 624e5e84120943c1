// key_store_contract.cpp: the KeyStore contract (see key_store_contract.hpp).
#include "key_store_contract.hpp"

#include <string>

namespace mlgate::contract {

namespace {

constexpr int64_t T0 = 1'900'000'000'000;  // times are given, never read from a clock

KeyCreateOptions named(const std::string& name, const std::string& tier = "free") {
  KeyCreateOptions o;
  o.name = name;
  o.tier = tier;
  return o;
}

}  // namespace

void run_key_store_contract(const KeyStoreBackendFactory& make) {
  auto backend = make();
  auto admin = backend->open_admin();

  SUBCASE("a created key is listed and found by id, never with its plain text") {
    KeyCreateOptions o = named("ci", "pro");
    o.scopes = kScopeRead | kScopeMetrics;
    o.expires_in_ms = 60'000;
    NewKey nk = admin->create(o, T0);
    CHECK(check_format(nk.key));
    CHECK(nk.record.owner == "ci");  // the owner defaults to the name
    auto r = admin->find(nk.record.id);
    REQUIRE(r);
    CHECK(r->name == "ci");
    CHECK(r->tier == "pro");
    CHECK(r->scopes == (kScopeRead | kScopeMetrics));
    CHECK(r->created_at == T0);
    CHECK(r->expires_at == T0 + 60'000);
    CHECK_FALSE(r->revoked_at);
    KeyCreateOptions o2 = named("second");
    o2.owner = "team";
    admin->create(o2, T0 + 1);
    auto all = admin->list();
    REQUIRE(all.size() == 2);
    CHECK(all[0].id == nk.record.id);  // oldest first
    CHECK(all[1].owner == "team");
    CHECK_FALSE(admin->find("key_doesnotexist"));
  }

  SUBCASE("the server authenticates a valid key and refuses every other value") {
    NewKey nk = admin->create(named("ci"), T0);
    auto server = backend->open_server();
    auto rec = server->authenticate(nk.key, T0 + 1);
    REQUIRE(rec);
    CHECK(rec->id == nk.record.id);
    CHECK_FALSE(server->authenticate("", T0 + 1));
    CHECK_FALSE(server->authenticate("not-a-key", T0 + 1));
    // The last character changed (to one it is not: a key ending in "x"
    // once made this the key itself, 1 run in 62).
    CHECK_FALSE(server->authenticate(nk.key.substr(0, nk.key.size() - 1) + (nk.key.back() == 'x' ? "y" : "x"),
                                     T0 + 1));
    CHECK_FALSE(server->authenticate(generate_api_key(), T0 + 1));  // well formed, unknown
    CHECK(server->size() == 1);
  }

  SUBCASE("a key created through another handle works on its first request") {
    auto server = backend->open_server();
    NewKey nk = admin->create(named("late"), T0);
    auto rec = server->authenticate(nk.key, T0 + 1);  // no refresh() in between
    REQUIRE(rec);
    CHECK(rec->name == "late");
  }

  SUBCASE("an expired key is refused from its expiry on") {
    KeyCreateOptions o = named("short");
    o.expires_in_ms = 1'000;
    NewKey nk = admin->create(o, T0);
    auto server = backend->open_server();
    CHECK(server->authenticate(nk.key, T0 + 999));
    CHECK_FALSE(server->authenticate(nk.key, T0 + 1'000));
  }

  SUBCASE("a revocation through another handle reaches the server at its next refresh") {
    NewKey nk = admin->create(named("ci"), T0);
    auto server = backend->open_server();
    REQUIRE(server->authenticate(nk.key, T0 + 1));
    CHECK_FALSE(server->refresh());  // nothing changed yet
    CHECK(admin->revoke(nk.record.id, T0 + 10));
    CHECK(server->refresh());  // the change watch
    CHECK_FALSE(server->authenticate(nk.key, T0 + 11));
    CHECK(admin->revoke(nk.record.id, T0 + 20));  // again: the first time stays
    CHECK(admin->find(nk.record.id)->revoked_at == T0 + 10);
    CHECK_FALSE(admin->revoke("key_doesnotexist", T0));
  }

  SUBCASE("rotation: the new key works at once, the old one until the grace ends") {
    NewKey old = admin->create(named("ci", "pro"), T0);
    auto server = backend->open_server();
    auto nk = admin->rotate(old.record.id, 5'000, T0 + 100);
    REQUIRE(nk);
    CHECK(nk->key != old.key);
    CHECK(nk->record.id != old.record.id);
    CHECK(nk->record.tier == "pro");
    CHECK(nk->record.owner == old.record.owner);
    CHECK(admin->find(old.record.id)->replaced_by == nk->record.id);
    server->refresh();
    CHECK(server->authenticate(nk->key, T0 + 101));
    CHECK(server->authenticate(old.key, T0 + 5'099));
    CHECK_FALSE(server->authenticate(old.key, T0 + 5'100));
    // Neither a revoked nor an unknown key can be rotated; nothing is created.
    CHECK(admin->revoke(nk->record.id, T0 + 200));
    CHECK_FALSE(admin->rotate(nk->record.id, 0, T0 + 300));
    CHECK_FALSE(admin->rotate("key_doesnotexist", 0, T0 + 300));
    CHECK(admin->list().size() == 2);
  }

  SUBCASE("the server's tiers are recorded for the CLI, each record replacing the last") {
    admin->record_server_tiers({"free", "pro"}, T0);
    auto other = backend->open_admin();
    CHECK(other->server_tiers() == std::vector<std::string>{"free", "pro"});
    other->record_server_tiers({"free"}, T0 + 1);
    CHECK(admin->server_tiers() == std::vector<std::string>{"free"});
  }

  SUBCASE("last use is written by flush_last_used and never moves backwards") {
    NewKey nk = admin->create(named("ci"), T0);
    auto server = backend->open_server();
    REQUIRE(server->authenticate(nk.key, T0 + 50));
    server->flush_last_used();
    CHECK(admin->find(nk.record.id)->last_used_at == T0 + 50);
    REQUIRE(server->authenticate(nk.key, T0 + 10));  // a clock stepped back
    server->flush_last_used();
    CHECK(admin->find(nk.record.id)->last_used_at == T0 + 50);
  }

  SUBCASE("keys whose tier the server does not configure are named") {
    NewKey gold = admin->create(named("g", "gold"), T0);
    admin->create(named("f", "free"), T0);
    auto server = backend->open_server();
    auto ids = server->active_outside({{"free", "10/s"}}, T0 + 1);
    CHECK(ids == std::vector<std::string>{gold.record.id + " (gold)"});
  }
}

}  // namespace mlgate::contract
