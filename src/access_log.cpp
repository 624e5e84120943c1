// access_log.cpp: see access_log.hpp.
#include "access_log.hpp"

#include <cstdio>

#include "clock.hpp"
#include "key_store.hpp"
#include "log.hpp"
#include "security.hpp"

namespace mlgate {

std::string access_log_line(const AccessLogEntry& e) {
  std::string line;
  line.reserve(224);
  line += "{\"client\":";
  append_json_string(line, e.client);
  line += ",\"key\":";
  if (e.key_id) append_json_string(line, *e.key_id);
  else line += "null";
  line += ",\"level\":\"info\",\"method\":";
  append_json_string(line, e.method);
  line += ",\"ms\":";
  if (e.ms) {
    char ms[32];
    const int n = std::snprintf(ms, sizeof ms, "%.3f", *e.ms);
    line.append(ms, static_cast<size_t>(n));
  } else {
    line += "null";
  }
  line += ",\"msg\":\"request\",\"rid\":" + std::to_string(e.rid) + ",\"route\":";
  append_json_string(line, e.route);
  line += ",\"status\":" + std::to_string(e.status) + ",\"ts\":";
  append_json_string(line, rfc3339(e.wall_ms));
  line += '}';
  return line;
}

std::string access_log_line(const RequestContext& ctx, uint64_t rid, int status,
                            int64_t elapsed_ns, int64_t wall_ms) {
  // Only values mlgate chose or parsed: the route template (not the raw
  // path), the key's public id, the resolved client address.
  AccessLogEntry e;
  e.client = ctx.client;
  if (ctx.key) e.key_id = &ctx.key->id;
  if (ctx.route) e.method = ctx.route->method, e.route = ctx.route->path;
  if (elapsed_ns >= 0) e.ms = static_cast<double>(elapsed_ns) / 1e6;
  e.rid = rid;
  e.status = status;
  e.wall_ms = wall_ms;
  return access_log_line(e);
}

}  // namespace mlgate
