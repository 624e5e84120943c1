// usage_error.hpp: a command line the command cannot run (a bad flag or
// value). The admin and predict commands print its one line and exit 2.
#pragma once

#include <stdexcept>

namespace mlgate {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace mlgate
