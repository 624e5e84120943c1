// Unit tests for address_slots.hpp: open connections counted per address.
#include <doctest/doctest.h>

#include <vector>

#include "address_slots.hpp"

using namespace mlgate;

TEST_CASE("an address gets at most its cap of slots; a slot given back is free again") {
  AddressSlots slots(2);
  std::vector<AddressSlots::Slot> held;
  held.push_back(slots.acquire("10.0.0.1"));
  held.push_back(slots.acquire("10.0.0.1"));
  CHECK(held[0]);
  CHECK(held[1]);
  CHECK_FALSE(slots.acquire("10.0.0.1"));
  CHECK(slots.open("10.0.0.1") == 2);
  CHECK(slots.acquire("10.0.0.2"));  // another address is not affected
  held.pop_back();
  CHECK(slots.open("10.0.0.1") == 1);
  CHECK(slots.acquire("10.0.0.1"));
}

TEST_CASE("a refused or moved-from slot gives nothing back") {
  AddressSlots slots(1);
  auto a = slots.acquire("x");
  { auto refused = slots.acquire("x"); }
  CHECK(slots.open("x") == 1);
  {
    AddressSlots::Slot moved(std::move(a));
    CHECK(slots.open("x") == 1);
  }
  CHECK(slots.open("x") == 0);
}
