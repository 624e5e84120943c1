// limiter_state.hpp: where the embedded limiter keeps its table between runs.
//
// The embedded limiter (local_limiter.hpp) saves its table as one opaque
// blob (rate_limiter.hpp's snapshot encoding) so that a restarted process
// keeps its limits. The store that holds the blob is an interface so that
// the limiter knows nothing of the database behind it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mlgate {

class LimiterStateStore {
 public:
  virtual ~LimiterStateStore() = default;
  // The blob saved last, or nullopt when none was. Throws on storage errors.
  virtual std::optional<std::string> load_limiter_state() = 0;
  // Replaces the saved blob; durable when it returns. Throws on storage errors.
  virtual void save_limiter_state(std::string_view blob) = 0;
};

}  // namespace mlgate
