// access_log.hpp: the one JSON line mlgate writes per request (when the
// access log is on), built by hand into one string.
//
// Contract: the line is one JSON object with the keys in the order Log's
// own lines use (sorted): client, key, level, method, ms, msg, rid, route,
// status, ts. Every string is JSON-escaped (a client address or route could
// in principle hold anything); `key` and `ms` are null when unknown (a
// request the HTTP library refused before mlgate saw it). Only values mlgate
// chose or parsed go in: never a raw path, a header or a key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlgate {

struct RequestContext;  // security.hpp

struct AccessLogEntry {
  std::string_view client;            // the resolved client address
  const std::string* key_id = nullptr;  // the key's public id, or null
  std::string_view method = "-";      // the route's method, "-" when no route
  std::string_view route = "-";       // the route template, "-" when no route
  std::optional<double> ms;           // latency in milliseconds
  uint64_t rid = 0;                   // request id
  int status = 0;
  int64_t wall_ms = 0;                // time of the line (Unix ms)
};

// Built by hand rather than through a json object: this runs for every
// request, and a json object costs a dozen allocations.
std::string access_log_line(const AccessLogEntry& e);

// The line for one request from what the gate learned of it: the resolved
// client, the key's public id, the route's method and template.
// `elapsed_ns` < 0: latency unknown (refused before the gate ran).
std::string access_log_line(const RequestContext& ctx, uint64_t rid, int status,
                            int64_t elapsed_ns, int64_t wall_ms);

}  // namespace mlgate
