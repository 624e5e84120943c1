// address_slots.hpp: open connections counted per client address, so that
// one address cannot hold every connection thread (DESIGN.md, "Connections").
//
// What the caller may rely on
// - acquire() succeeds while the address holds fewer than `per_address`
//   connections; the Slot it returns gives the place back when destroyed.
// - The address is the socket's peer (an IPv6 peer by its /64 or the
//   configured prefix), never a header: behind a reverse proxy every
//   connection comes from the proxy's address.
// - Memory: one map entry per address with an open connection, so bounded
//   by the number of connection threads.
// - Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mlgate {

class AddressSlots {
 public:
  explicit AddressSlots(size_t per_address) : per_address_(per_address) {}

  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : owner_(o.owner_), key_(std::move(o.key_)) { o.owner_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (owner_) owner_->release(key_);
    }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    friend class AddressSlots;
    Slot(AddressSlots* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    AddressSlots* owner_ = nullptr;
    std::string key_;
  };

  // An empty Slot when `address` already holds per_address connections.
  Slot acquire(const std::string& address);
  size_t open(const std::string& address) const;

 private:
  void release(const std::string& address);

  const size_t per_address_;
  mutable std::mutex mu_;  // guards open_
  std::unordered_map<std::string, size_t> open_;
};

}  // namespace mlgate
