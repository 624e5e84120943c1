// cors.cpp: see cors.hpp.
#include "cors.hpp"

namespace mlgate {

bool add_cors_headers(const std::vector<std::string>& allowed,
                      std::optional<std::string_view> origin, bool preflight, HeaderList& out) {
  if (allowed.empty() || !origin) return false;
  for (const auto& a : allowed) {
    if (*origin != a) continue;
    out.emplace_back("Access-Control-Allow-Origin", a);
    out.emplace_back("Vary", "Origin");
    if (preflight) {
      out.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE");
      out.emplace_back("Access-Control-Allow-Headers",
                       "Content-Type, X-API-Key, Authorization, Idempotency-Key, Prefer");
      out.emplace_back("Access-Control-Max-Age", "600");
    } else {
      out.emplace_back("Access-Control-Expose-Headers",
                       "Location, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id");
    }
    return true;
  }
  return false;
}

}  // namespace mlgate
