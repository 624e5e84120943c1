// cors.hpp: Cross-Origin Resource Sharing for browsers on the origins the
// operator listed (--cors-origin). Off when the list is empty.
//
// Contract: an origin is allowed only when it equals a listed one exactly.
// A preflight (OPTIONS) from an allowed origin gets the methods, request
// headers and max-age mlgate accepts; any other answer to an allowed origin
// exposes the response headers a client may read. A request without an
// Origin, or from another origin, gets no CORS header at all.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlgate {

// Response headers to set: name, value (names are string literals).
using HeaderList = std::vector<std::pair<const char*, std::string>>;

// Appends the CORS headers for a request from `origin` (nullopt: no Origin
// header) to `out`; `preflight`: the request is an OPTIONS. True when the
// origin is allowed.
bool add_cors_headers(const std::vector<std::string>& allowed,
                      std::optional<std::string_view> origin, bool preflight, HeaderList& out);

}  // namespace mlgate
