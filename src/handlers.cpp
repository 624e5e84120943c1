// handlers.cpp: one function a route, called by Server::Impl::dispatch
// once the gate (security.hpp) has let the request through; t_ctx holds
// what it learned (client, key, route). The route table is routes.cpp.
#include "server_impl.hpp"

namespace mlgate {

namespace {

// One of at most `max` places for a request that waits (Prefer: wait);
// held is false when all are taken (or max is 0), and then nothing is held.
struct WaitSlot {
  std::atomic<size_t>& count;
  bool held;
  WaitSlot(std::atomic<size_t>& c, size_t max) : count(c), held(false) {
    if (max == 0) return;
    if (count.fetch_add(1, std::memory_order_relaxed) < max) held = true;
    else count.fetch_sub(1, std::memory_order_relaxed);
  }
  ~WaitSlot() {
    if (held) count.fetch_sub(1, std::memory_order_relaxed);
  }
  WaitSlot(const WaitSlot&) = delete;
  WaitSlot& operator=(const WaitSlot&) = delete;
};

}  // namespace

void Server::Impl::h_root(const Request&, Response& res) {
  set_json(res, 200, {{"message", "mlgate: a machine-learning model behind a secure job API"},
                      {"version", MLGATE_VERSION},
                      {"model", model->name()}});
}

void Server::Impl::h_health(const Request&, Response& res) {
  std::string db_failure = store->failure(wall_ms());
  int64_t busy = workers->oldest_running_ns();
  bool stuck = busy > (cfg.exec_timeout_ms + 30'000) * 1'000'000LL;
  bool draining_now = draining.load();
  bool ok = db_failure.empty() && !stuck && !draining_now;
  json body = {{"status", ok ? "healthy" : "unhealthy"},
               {"version", MLGATE_VERSION},
               {"database", db_failure.empty() ? "ok" : "failing"},
               {"workers", stuck ? "stuck" : "ok"},
               {"draining", draining_now},
               {"limiter", limiter->backend()},  // names a degraded shared limiter
               {"unfinished_jobs", store->unfinished()}};
  if (!ok) {
    body["reason"] = !db_failure.empty() ? db_failure
                     : stuck             ? "a job has run past the model's timeout"
                                         : "shutting down";
    res.set_header("Retry-After", "5");
  }
  set_json(res, ok ? 200 : 503, body);
}

void Server::Impl::h_predict(const Request& req, Response& res) {
  if (draining.load()) {
    res.set_header("Retry-After", "5");
    set_detail(res, 503, "Server is shutting down; try again later");
    return;
  }
  NewJob nj;
  if (auto err = parse_predict_body(req.body, nj.input)) {
    set_json(res, 422, validation_body(*err));
    return;
  }
  nj.owner = t_ctx.key->owner;
  nj.key_id = t_ctx.key->id;
  if (req.has_header("Idempotency-Key")) {
    auto ik = req.get_header_value("Idempotency-Key");
    if (ik.empty() || ik.size() > 255) {
      set_json(res, 422, validation_body({"Idempotency-Key", "must be 1 to 255 characters",
                                          "value_error"}));
      return;
    }
    nj.idempotency_key = ik;
    auto h = sha256(req.body);
    nj.request_hash.assign(reinterpret_cast<const char*>(h.data()), h.size());
  }
  int wait_s = parse_prefer_wait(req.get_header_value("Prefer"), cfg.wait_max_s);
  InsertResult r = store->insert(nj, wall_ms());
  switch (r.outcome) {
    case InsertOutcome::QueueFull:
      metrics.queue_full.fetch_add(1, std::memory_order_relaxed);
      res.set_header("Retry-After", "1");
      set_detail(res, 503, "Job queue is full; try again later");
      return;
    case InsertOutcome::Conflict:
      set_json(res, 422, validation_body({"Idempotency-Key",
                                          "this Idempotency-Key was used with a different body",
                                          "value_error.idempotency_conflict"}));
      return;
    case InsertOutcome::Replayed: {
      auto job = store->get(r.job.uuid, nj.owner);
      res.set_header("Location", "/jobs/" + r.job.uuid);
      set_json(res, 200, job_to_json(job ? *job : r.job));
      return;
    }
    case InsertOutcome::Created:
      break;
  }
  metrics.jobs_accepted.fetch_add(1, std::memory_order_relaxed);
  res.set_header("Location", "/jobs/" + r.job.uuid);
  // A waiting request holds its connection thread: past the bound the
  // preference is not applied (202 at once), so waiters cannot take every
  // thread from other clients.
  WaitSlot slot(waiting, wait_s > 0 ? max_waiting : 0);
  if (wait_s > 0 && !slot.held) metrics.waits_declined.fetch_add(1, std::memory_order_relaxed);
  if (slot.held) {
    auto token = store->watch_finish(r.job.seq);
    workers->submit(r.job.seq);
    if (store->wait_finished(token, std::chrono::seconds(wait_s))) {
      auto job = store->get(r.job.uuid, nj.owner);
      // Only a finished job is the answer the preference asked for.
      if (job && job->finished()) {
        res.set_header("Preference-Applied", "wait=" + std::to_string(wait_s));
        set_json(res, 200, job_to_json(*job));
        return;
      }
    }
  } else {
    workers->submit(r.job.seq);
  }
  set_json(res, 202, job_to_json(r.job));
}

void Server::Impl::h_get_job(const Request& req, Response& res) {
  auto job = store->get(path_param(req.path), t_ctx.key->owner);
  if (!job) return set_detail(res, 404, "Job not found");
  set_json(res, 200, job_to_json(*job));
}

void Server::Impl::h_list_jobs(const Request& req, Response& res) {
  std::optional<JobStatus> status;
  if (req.has_param("status")) {
    status = parse_job_status(req.get_param_value("status"));
    if (!status)
      return set_json(res, 422, validation_body({"status", "unknown status", "type_error.enum"}));
  }
  int limit = 20;
  if (req.has_param("limit")) {
    auto v = req.get_param_value("limit");
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || n < 1 || n > 100)
      return set_json(res, 422, validation_body({"limit", "must be 1 to 100", "value_error"}));
    limit = static_cast<int>(n);
  }
  std::optional<int64_t> before;
  if (req.has_param("cursor")) {
    before = cursors->decode(req.get_param_value("cursor"), t_ctx.key->owner);
    if (!before) return set_json(res, 422, validation_body({"cursor", "invalid cursor", "value_error"}));
  }
  auto page = store->list(t_ctx.key->owner, status, limit, before);
  json jobs = json::array();
  for (auto& j : page.jobs) jobs.push_back(job_to_json(j));
  set_json(res, 200, {{"jobs", jobs},
                      {"next_cursor", page.next_before
                                          ? json(cursors->encode(*page.next_before, t_ctx.key->owner))
                                          : json(nullptr)}});
}

void Server::Impl::h_cancel_job(const Request& req, Response& res) {
  auto r = store->cancel(path_param(req.path), t_ctx.key->owner, wall_ms());
  switch (r.outcome) {
    case JobStore::CancelOutcome::NotFound:
      return set_detail(res, 404, "Job not found");
    case JobStore::CancelOutcome::Finished:
      return set_detail(res, 409, std::string("Job already ") + to_string(r.job->status));
    case JobStore::CancelOutcome::CanceledRunning:
      workers->cancel(r.job->seq);
      [[fallthrough]];
    case JobStore::CancelOutcome::Canceled:
      set_json(res, 200, job_to_json(*r.job));
  }
}

void Server::Impl::h_metrics(const Request&, Response& res) {
  MetricsView v;
  v.unfinished = store->unfinished();
  v.queued = workers->queued();
  v.running = workers->running();
  v.commits = store->commits();
  v.committed_ops = store->committed_ops();
  v.keys = keys->size();
  v.limiter = limiter->stats();
  v.conn_threads = pool ? pool->threads() : 0;
  v.log_dropped = Log::instance().dropped();
  v.waiting = waiting.load(std::memory_order_relaxed);
  auto we = workers->errors();
  v.worker_errors_claim = we.claim;
  v.worker_errors_model = we.model;
  v.worker_errors_record = we.record;
  res.status = 200;
  res.set_content(metrics.render(v), "text/plain; version=0.0.4");
}

void Server::Impl::h_openapi(const Request&, Response& res) {
  set_json(res, 200, openapi_document(MLGATE_VERSION));
}

void Server::Impl::h_docs(const Request&, Response& res) {
  res.status = 200;
  res.set_header("Content-Security-Policy", docs.csp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(docs.html, "text/html; charset=utf-8");
}

}  // namespace mlgate
