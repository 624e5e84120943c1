// access_log.cpp: see access_log.hpp.
#include "access_log.hpp"

#include <cstdio>

#include "clock.hpp"
#include "log.hpp"

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

}  // namespace mlgate
