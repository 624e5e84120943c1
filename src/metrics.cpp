#include "metrics.hpp"

#include <charconv>
#include <sstream>

#include "process_stats.hpp"

namespace mlgate {

namespace {

// Shortest text that reads back as the same double (Prometheus accepts it).
std::string num(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// A bucket bound in seconds as Prometheus clients write it: "0.0005", "2.5", "30".
std::string bound(int64_t ns) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, static_cast<double>(ns) / 1e9, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

void process_metrics(std::ostringstream& o) {
  ProcessStats p = read_process_stats();
  auto one = [&](const char* name, const char* type, const char* help, double v) {
    if (v < 0) return;  // could not be read
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << num(v) << '\n';
  };
  one("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
      p.cpu_seconds);
  one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
      static_cast<double>(p.resident_bytes));
  one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
      static_cast<double>(p.virtual_bytes));
  one("process_open_fds", "gauge", "Number of open file descriptors.", static_cast<double>(p.open_fds));
  one("process_max_fds", "gauge", "Maximum number of open file descriptors.",
      static_cast<double>(p.max_fds));
  one("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
      p.start_time_seconds);
}

}  // namespace

void Metrics::count_response(int status) {
  size_t cls = status >= 100 && status < 600 ? static_cast<size_t>(status / 100) : 0;
  by_class_[cls].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::observe(size_t route, int status, int64_t elapsed_ns) {
  if (status < 100 || status > 599 || route > kRouteCount) return;
  LatencyCell& c = latency_[route][static_cast<size_t>(status / 100 - 1)];
  size_t b = 0;
  while (b < kLatencyBoundsNs.size() && elapsed_ns > kLatencyBoundsNs[b]) ++b;
  // Each bucket counts its own range; render() accumulates them.
  c.buckets[b].fetch_add(1, std::memory_order_relaxed);
  c.sum_ns.fetch_add(static_cast<uint64_t>(elapsed_ns), std::memory_order_relaxed);
}

std::string Metrics::render(const MetricsView& v) const {
  std::ostringstream o;
  auto counter = [&](const char* name, const char* help, uint64_t value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
      << name << ' ' << value << '\n';
  };
  auto gauge = [&](const char* name, const char* help, double value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
      << name << ' ' << value << '\n';
  };
  o << "# HELP mlgate_http_responses_total Responses by status class.\n"
       "# TYPE mlgate_http_responses_total counter\n";
  static const char* kClass[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (size_t i = 0; i < by_class_.size(); ++i)
    o << "mlgate_http_responses_total{class=\"" << kClass[i] << "\"} "
      << by_class_[i].load(std::memory_order_relaxed) << '\n';
  o << "# HELP mlgate_http_request_duration_seconds Time from a request's head to its answer, "
       "by route and status class.\n"
       "# TYPE mlgate_http_request_duration_seconds histogram\n";
  static const char* kStatusClass[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (size_t r = 0; r < latency_.size(); ++r) {
    // Routes are mlgate's own constants; "-" is a request that matched none.
    std::string labels = r < kRouteCount ? std::string("method=\"") + routes()[r].method +
                                               "\",route=\"" + routes()[r].path + "\""
                                         : std::string("method=\"-\",route=\"-\"");
    for (size_t k = 0; k < latency_[r].size(); ++k) {
      const LatencyCell& c = latency_[r][k];
      // Read the buckets once; _count is their total, so +Inf always equals it.
      std::array<uint64_t, kLatencyBoundsNs.size() + 1> n{};
      uint64_t total = 0;
      for (size_t b = 0; b < n.size(); ++b) total += n[b] = c.buckets[b].load(std::memory_order_relaxed);
      if (total == 0) continue;  // only series that have seen a request
      std::string l = labels + ",class=\"" + kStatusClass[k] + "\"";
      uint64_t cumulative = 0;
      for (size_t b = 0; b < n.size(); ++b) {
        cumulative += n[b];
        o << "mlgate_http_request_duration_seconds_bucket{" << l << ",le=\""
          << (b < kLatencyBoundsNs.size() ? bound(kLatencyBoundsNs[b]) : "+Inf")
          << "\"} " << cumulative << '\n';
      }
      o << "mlgate_http_request_duration_seconds_sum{" << l << "} "
        << num(static_cast<double>(c.sum_ns.load(std::memory_order_relaxed)) / 1e9) << '\n'
        << "mlgate_http_request_duration_seconds_count{" << l << "} " << total << '\n';
    }
  }
  counter("mlgate_jobs_accepted_total", "Jobs stored and answered 202.", jobs_accepted.load());
  counter("mlgate_jobs_finished_total", "Job attempts whose outcome was recorded.", jobs_finished.load());
  counter("mlgate_rate_limited_total", "Requests refused with 429.", rate_limited.load());
  counter("mlgate_auth_failures_total", "Requests with a missing or invalid key.", auth_failures.load());
  counter("mlgate_queue_full_total", "POST /predict refused because the queue was full.", queue_full.load());
  counter("mlgate_store_commits_total", "Write transactions committed.", v.commits);
  counter("mlgate_store_committed_ops_total", "Operations in committed transactions (group commit).",
          v.committed_ops);
  counter("mlgate_limiter_forced_evictions_total",
          "Limiter entries forgotten before they had refilled (table full).", v.limiter.forced_evictions);
  // Policy names are limited to [A-Za-z0-9_.-], so they need no escaping.
  o << "# HELP mlgate_ratelimit_decisions_total Rate-limit decisions by policy and result.\n"
       "# TYPE mlgate_ratelimit_decisions_total counter\n";
  for (const auto& p : v.limiter.policies)
    o << "mlgate_ratelimit_decisions_total{policy=\"" << p.name << "\",result=\"allowed\"} " << p.allowed
      << "\nmlgate_ratelimit_decisions_total{policy=\"" << p.name << "\",result=\"refused\"} " << p.refused
      << '\n';
  if (const auto& sh = v.limiter.shared) {
    gauge("mlgate_redis_up", "1 while Redis decides rate limits, 0 while the fallback does.",
          sh->up ? 1 : 0);
    o << "# HELP mlgate_redis_transitions_total Redis outages (to=down) and recoveries (to=up).\n"
         "# TYPE mlgate_redis_transitions_total counter\n"
      << "mlgate_redis_transitions_total{to=\"down\"} " << sh->went_down << '\n'
      << "mlgate_redis_transitions_total{to=\"up\"} " << sh->came_back << '\n';
    o << "# HELP mlgate_ratelimit_backend_decisions_total Requests by who decided their limits "
         "(open, closed: Redis was down and none did).\n"
         "# TYPE mlgate_ratelimit_backend_decisions_total counter\n";
    const std::pair<const char*, uint64_t> by[] = {
        {"redis", sh->by_shared}, {"local", sh->by_local}, {"open", sh->by_open}, {"closed", sh->by_closed}};
    for (const auto& [name, n] : by)
      o << "mlgate_ratelimit_backend_decisions_total{backend=\"" << name << "\"} " << n << '\n';
  }
  counter("mlgate_log_dropped_total", "Log lines dropped because the log queue was full.", v.log_dropped);
  counter("mlgate_prefer_wait_declined_total",
          "Prefer: wait not applied (202 at once) because --max-waiting requests were waiting.",
          waits_declined.load());
  o << "# HELP mlgate_worker_errors_total Exceptions caught by the workers, by stage (each also logged).\n"
       "# TYPE mlgate_worker_errors_total counter\n"
       "mlgate_worker_errors_total{stage=\"claim\"} " << v.worker_errors_claim << '\n'
    << "mlgate_worker_errors_total{stage=\"model\"} " << v.worker_errors_model << '\n'
    << "mlgate_worker_errors_total{stage=\"record\"} " << v.worker_errors_record << '\n';
  gauge("mlgate_jobs_unfinished", "Pending and running jobs.", static_cast<double>(v.unfinished));
  gauge("mlgate_jobs_queued", "Jobs waiting for a worker.", static_cast<double>(v.queued));
  gauge("mlgate_jobs_running", "Jobs being run now.", static_cast<double>(v.running));
  gauge("mlgate_keys_loaded", "API keys in memory (revoked keys are not kept).", static_cast<double>(v.keys));
  gauge("mlgate_connection_threads", "Threads serving connections.", static_cast<double>(v.conn_threads));
  gauge("mlgate_prefer_waiting", "Requests holding their answer for a job (Prefer: wait).",
        static_cast<double>(v.waiting));
  gauge("mlgate_limiter_entries", "Clients in the rate-limit table.", static_cast<double>(v.limiter.entries));
  gauge("mlgate_limiter_capacity", "Capacity of the rate-limit table.", static_cast<double>(v.limiter.capacity));
  o << "# HELP mlgate_build_info The version of this mlgate build (always 1).\n"
       "# TYPE mlgate_build_info gauge\n"
       "mlgate_build_info{version=\"" MLGATE_VERSION "\"} 1\n";
  process_metrics(o);
  return o.str();
}

}  // namespace mlgate
