#include "metrics.hpp"

#include <sstream>

namespace mlgate {

void Metrics::count_response(int status) {
  size_t cls = status >= 100 && status < 600 ? static_cast<size_t>(status / 100) : 0;
  by_class_[cls].fetch_add(1, std::memory_order_relaxed);
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
  gauge("mlgate_keys_loaded", "API keys in memory.", static_cast<double>(v.keys));
  gauge("mlgate_connection_threads", "Threads serving connections.", static_cast<double>(v.conn_threads));
  gauge("mlgate_prefer_waiting", "Requests holding their answer for a job (Prefer: wait).",
        static_cast<double>(v.waiting));
  gauge("mlgate_limiter_entries", "Clients in the rate-limit table.", static_cast<double>(v.limiter.entries));
  gauge("mlgate_limiter_capacity", "Capacity of the rate-limit table.", static_cast<double>(v.limiter_capacity));
  return o.str();
}

JobWaiters::Token JobWaiters::expect(int64_t seq) {
  auto w = std::make_shared<Waiter>();
  std::lock_guard lock(mu_);
  waiting_.emplace(seq, w);
  return {seq, w};
}

bool JobWaiters::wait(const Token& t, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return t.second->done || closed_; });
  bool done = t.second->done;
  auto range = waiting_.equal_range(t.first);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == t.second) {
      waiting_.erase(it);
      break;
    }
  }
  return done;
}

void JobWaiters::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

void JobWaiters::notify(int64_t seq) {
  {
    std::lock_guard lock(mu_);
    auto range = waiting_.equal_range(seq);
    if (range.first == range.second) return;
    for (auto it = range.first; it != range.second; ++it) it->second->done = true;
  }
  cv_.notify_all();
}

}  // namespace mlgate
