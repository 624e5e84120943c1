// key_store_contract.hpp: the behaviour every KeyStore (key_store.hpp) must
// show, as one doctest suite run against each implementation.
//
// A backend registers with MLGATE_KEY_STORE_CONTRACT(Name, factory): the
// factory makes a fresh, empty database for one subcase and returns a
// KeyStoreBackend on it. open_admin() is a management handle, as the admin
// CLI opens one; open_server() a serving handle, as the server opens one.
// Changes made through one handle must reach the others (the change watch).
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include "key_store.hpp"

namespace mlgate::contract {

class KeyStoreBackend {
 public:
  virtual ~KeyStoreBackend() = default;
  virtual std::unique_ptr<KeyStore> open_admin() = 0;
  virtual std::unique_ptr<KeyStore> open_server() = 0;
};

using KeyStoreBackendFactory = std::function<std::unique_ptr<KeyStoreBackend>()>;

void run_key_store_contract(const KeyStoreBackendFactory& make);

}  // namespace mlgate::contract

#define MLGATE_KEY_STORE_CONTRACT(NAME, FACTORY) \
  TEST_CASE("key store contract: " NAME) { ::mlgate::contract::run_key_store_contract(FACTORY); }
#define MLGATE_KEY_STORE_CONTRACT_IF(NAME, DECORATORS, FACTORY)   \
  TEST_CASE("key store contract: " NAME * DECORATORS) {           \
    ::mlgate::contract::run_key_store_contract(FACTORY);          \
  }
