// Unit tests for metrics.cpp: the latency histogram's Prometheus form, the
// process_* figures read from /proc, and the build information.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <regex>
#include <sstream>

#include "metrics.hpp"
#include "process_stats.hpp"
#include "routes.hpp"

using namespace mlgate;

namespace {

// "name{labels} value" lines of the text format, by name{labels}.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> m;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    m[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return m;
}

size_t route_index(RouteId id) { return static_cast<size_t>(id); }

}  // namespace

TEST_CASE("the latency histogram: cumulative le buckets, _sum and _count per route and status class") {
  Metrics m;
  m.observe(route_index(RouteId::Predict), 202, 300'000);        // 0.3 ms
  m.observe(route_index(RouteId::Predict), 202, 4'000'000);      // 4 ms
  m.observe(route_index(RouteId::Predict), 201, 60'000'000'000); // 60 s: only +Inf
  m.observe(route_index(RouteId::Predict), 429, 1'000'000);      // exactly on a bound: le="0.001"
  m.observe(kRouteCount, 404, 2'000'000);                         // no route
  m.observe(route_index(RouteId::Root), 700, 1);                  // not a status: ignored
  auto s = samples(m.render({}));
  const std::string p = "mlgate_http_request_duration_seconds";
  const std::string l = "{method=\"POST\",route=\"/predict\",class=\"2xx\"";
  CHECK(s[p + "_bucket" + l + ",le=\"0.0005\"}"] == 1);
  CHECK(s[p + "_bucket" + l + ",le=\"0.0025\"}"] == 1);
  CHECK(s[p + "_bucket" + l + ",le=\"0.005\"}"] == 2);
  CHECK(s[p + "_bucket" + l + ",le=\"30\"}"] == 2);
  CHECK(s[p + "_bucket" + l + ",le=\"+Inf\"}"] == 3);
  CHECK(s[p + "_count" + l + "}"] == 3);
  CHECK(s[p + "_sum" + l + "}"] == doctest::Approx(60.0043));
  const std::string l4 = "{method=\"POST\",route=\"/predict\",class=\"4xx\"";
  CHECK(s[p + "_bucket" + l4 + ",le=\"0.0005\"}"] == 0);
  CHECK(s[p + "_bucket" + l4 + ",le=\"0.001\"}"] == 1);
  CHECK(s[p + "_count{method=\"-\",route=\"-\",class=\"4xx\"}"] == 1);
  // Series without a request are left out; the ignored status made none.
  CHECK(s.count(p + "_count{method=\"GET\",route=\"/\",class=\"2xx\"}") == 0);
  CHECK(m.render({}).find("# TYPE " + p + " histogram\n") != std::string::npos);
}

TEST_CASE("process_* figures and build information") {
  int fd = ::open("/dev/null", O_RDONLY);  // one more descriptor than before
  auto before = read_process_stats();
  ::close(fd);
  auto after = read_process_stats();
  CHECK(before.open_fds == after.open_fds + 1);
  CHECK(after.resident_bytes > 1'000'000);
  CHECK(after.virtual_bytes >= after.resident_bytes);
  CHECK(after.cpu_seconds >= 0);
  CHECK(after.max_fds > 0);
  double now = static_cast<double>(std::time(nullptr));
  CHECK(after.start_time_seconds <= now + 1);
  CHECK(after.start_time_seconds > now - 24 * 3600);  // a test run is not a day old

  auto s = samples(Metrics().render({}));
  CHECK(s["mlgate_build_info{version=\"" MLGATE_VERSION "\"}"] == 1);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"})
    CHECK_MESSAGE(s.count(name) == 1, name);
}
