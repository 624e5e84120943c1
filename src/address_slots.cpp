#include "address_slots.hpp"

namespace mlgate {

AddressSlots::Slot AddressSlots::acquire(const std::string& address) {
  std::lock_guard lock(mu_);
  size_t& n = open_[address];
  if (n >= per_address_) {
    if (n == 0) open_.erase(address);  // a cap of 0 admits no one; keep no entry
    return {};
  }
  ++n;
  return Slot(this, address);
}

size_t AddressSlots::open(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = open_.find(address);
  return it == open_.end() ? 0 : it->second;
}

void AddressSlots::release(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = open_.find(address);
  if (it != open_.end() && --it->second == 0) open_.erase(it);
}

}  // namespace mlgate
