// server.cpp: the HTTP wiring: start-up, pre-routing, the access log and
// the lifecycle; the handlers are in handlers.cpp. Every request passes the
// gate first (security.hpp: framing, client address, limits, key, scope),
// which answers refusals itself; the route table (routes.cpp) is the one
// place that says who may call what, read by the gate, the router and the
// OpenAPI document alike.
#include "server_impl.hpp"

#if MLGATE_HAVE_LIBPQ
#include "pg_stores.hpp"
#endif

#include <sys/socket.h>
#include <sys/stat.h>

namespace mlgate {

thread_local RequestState t_ctx;

namespace {

// Start-up waits this long for PRAGMA quick_check (which reads the whole
// file; what that costs is in the README); a check still running then goes
// on beside the server, and stops for good at the limit.
constexpr auto kIntegrityWaitAtStart = std::chrono::milliseconds(1000);
constexpr auto kIntegrityCheckLimit = std::chrono::milliseconds(60'000);

void log_integrity_ok(const IntegrityCheck::Result& r) {
  Log::instance().info("database checked",
                       {{"quick_check", r.complete ? "ok" : "stopped at its time limit"}, {"ms", r.ms}});
}

}  // namespace

Server::Impl::Impl(Config c, std::unique_ptr<Model> m) : cfg(std::move(c)), model(std::move(m)) {
  if (auto e = validate_config(cfg); !e.empty()) throw ConfigError(e);
  max_waiting = cfg.max_waiting ? cfg.max_waiting : std::max<size_t>(1, cfg.max_connections / 4);
  // Policies and a shared limiter's probe first: a value Redis refuses
  // stops start-up before the data directory is touched.
  GatePolicies policies = gate_policies(cfg);
  LimiterFactory limiters(cfg, std::move(policies.list));
  open_storage();
  build_limiter(limiters, std::move(policies.ids));
  // The admin CLI cannot see these flags: it reads the tiers from here.
  std::vector<std::string> tier_names;
  for (auto& [name, rate] : cfg.tiers) tier_names.push_back(name);
  keys->record_server_tiers(tier_names, wall_ms());
  if (auto ids = keys->active_outside(cfg.tiers, wall_ms()); !ids.empty())
    Log::instance().warn("keys whose tier is not configured are limited as free", {{"keys", ids}});
  WorkerOptions wo;
  wo.workers = cfg.workers;
  wo.shared = store->shared();
  workers = std::make_unique<WorkerPool>(*store, *model, wo);
  // A shared store tells this instance's workers of jobs other instances
  // accepted or gave up, and of cancels made anywhere.
  store->set_events({[w = workers.get()] { w->poke(); },
                     [w = workers.get()](int64_t seq) { w->cancel(seq); }});
  // A `Prefer: wait` hears of the outcome from the store (wait_finished).
  workers->set_on_recorded([this](int64_t, bool) {
    metrics.jobs_finished.fetch_add(1, std::memory_order_relaxed);
  });
  build_http();
}

void Server::Impl::open_storage() {
  DatabaseTarget target;
  if (!cfg.database.empty()) target = *parse_database_url(cfg.database).target;  // validated
  if (target.kind == DatabaseTarget::Postgres) {
    open_shared_storage(target);
    return;
  }
  // sqlite:///PATH names the file; its folder is then the data folder.
  db_path = target.path.empty() ? (std::filesystem::path(cfg.data_dir) / "mlgate.db").string()
                                 : target.path;
  std::string dir = std::filesystem::path(db_path).parent_path().string();
  if (dir.empty()) dir = ".";
  try {
    make_private_dir(dir);
  } catch (const DbFileError& e) {
    throw StartupError(e.what());
  }
  if (::access(dir.c_str(), W_OK) != 0)
    throw StartupError("data directory " + dir + " is not writable: " + std::strerror(errno));
  try {
    // Never start on a file that is not an mlgate database or is corrupt:
    // an empty or foreign file would otherwise become an empty database,
    // every key and job gone without a word.
    PreparedFile f = prepare_database_file(db_path);
    if (f.created) Log::instance().info("database created", {{"path", db_path}});
    if (!f.warning.empty()) Log::instance().warn(f.warning);
    integrity = std::make_unique<IntegrityCheck>(db_path, kIntegrityCheckLimit);
  } catch (const DbFileError& e) {
    throw StartupError(e.what());
  }
  // Start-up waits for the check a while; a larger file is checked on while
  // the server runs (maintain() takes the result).
  if (auto r = integrity->wait_for(kIntegrityWaitAtStart)) {
    integrity.reset();
    if (!r->problem.empty()) throw StartupError(corrupt_file_message(db_path, r->problem));
    log_integrity_ok(*r);
  } else {
    Log::instance().info("database check continues while serving",
                         {{"waited_ms", kIntegrityWaitAtStart.count()}});
  }
  try {
    ServerStores s = open_sqlite_server(db_path, cfg.queue_max, cfg.max_attempts);
    store = std::move(s.jobs);
    keys = std::move(s.keys);
    limiter_state = std::move(s.limiter_state);
    store->recover(wall_ms());  // jobs a crash left running run again
    cursors = std::make_unique<CursorCodec>(store->cursor_key());
  } catch (const std::exception& e) {
    throw StartupError(std::string("cannot open database: ") + e.what());
  }
}

void Server::Impl::open_shared_storage(const DatabaseTarget& target) {
#if MLGATE_HAVE_LIBPQ
  try {
    // Connections: one per worker, plus room for request threads.
    ServerStores s = open_pg_server(target.url, cfg.queue_max, cfg.max_attempts, cfg.job_lease_ms,
                                    static_cast<size_t>(cfg.workers) + 8);
    store = std::move(s.jobs);
    keys = std::move(s.keys);
    // Jobs whose instance died are taken over once their lease ran out
    // (the store keeps looking while it runs); live instances' jobs stay.
    store->recover(wall_ms());
    cursors = std::make_unique<CursorCodec>(store->cursor_key());
  } catch (const std::exception& e) {
    throw StartupError("cannot open database " + target.redacted() + ": " + e.what());
  }
  Log::instance().info("keys and jobs in postgresql", {{"database", target.redacted()},
                                                       {"job_lease_ms", cfg.job_lease_ms}});
#else
  (void)target;
  throw StartupError("--database: this mlgate was built without PostgreSQL support (libpq)");
#endif
}

void Server::Impl::build_limiter(LimiterFactory& limiters, GatePolicyIds ids) {
  LimiterOptions lo;
  lo.capacity = cfg.limit_table_size;
  // A restarted server keeps its limits (the table saved at the last stop).
  limiter = limiters.make(lo, limiter_state.get());
  gate = std::make_unique<Gate>(gate_options(cfg, std::move(ids)), *limiter, *keys);
}

void Server::Impl::build_http() {
  ConnOptions co;
  co.head.max_bytes = cfg.max_head_bytes;
  co.head_timeout = std::chrono::milliseconds(cfg.head_timeout_ms);
  co.body_timeout = std::chrono::milliseconds(cfg.body_timeout_ms);
  co.idle_timeout = std::chrono::seconds(cfg.keep_alive_timeout_s);
  co.write_timeout = std::chrono::seconds(cfg.read_timeout_s);
  co.per_address = cfg.max_connections_per_address ? cfg.max_connections_per_address
                                                   : std::max<size_t>(1, cfg.max_connections / 4);
  co.ipv6_prefix = cfg.ipv6_prefix;
  co.on_refused = [this](int status, const std::string& client) {
    // The access log line and metrics of a refusal made before the library
    // parsed anything: no route, no key, no timing.
    t_ctx = RequestState{};
    t_ctx.id = metrics.next_request_id();
    t_ctx.client = client;
    Response res;
    res.status = status;
    uint64_t id = t_ctx.id;
    log_request(Request{}, res);  // resets t_ctx
    return id;
  };
  std::unique_ptr<TlsContext> tls;
  if (!cfg.tls_cert.empty()) {
    try {
      tls = std::make_unique<TlsContext>(cfg.tls_cert, cfg.tls_key);
    } catch (const std::exception& e) {
      throw ConfigError(e.what());
    }
  }
  http = std::make_unique<HttpServer>(std::move(co), std::move(tls));
  httplib::Server& h = *http;
  h.new_task_queue = [this] {
    // Overflow threads only answer 503; a quarter of the cap (at least 16)
    // keeps that answer immediate while slow clients hold the pool.
    pool = new ConnPool(cfg.max_connections, std::max<size_t>(16, cfg.max_connections / 4));
    return pool;
  };
  // Without TCP_NODELAY, keep-alive responses stall on Nagle + delayed ACK.
  h.set_tcp_nodelay(true);
  // The library's default adds SO_REUSEPORT, which lets a second server bind
  // the same port and silently take half the connections. Reuse the address
  // (restart without TIME_WAIT delays), never the port.
  h.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Keep-alive, deadlines and timeouts are the connection loop's (ConnOptions).
  h.set_payload_max_length(cfg.max_body_bytes);
  h.set_pre_routing_handler([this](const Request& q, Response& r) { return pre_route(q, r); });
  // POST bodies are read by the library (within the cap), then dispatched here.
  for (const Route& r : routes())
    if (r.has_body)
      h.Post(r.path, [this](const Request& q, Response& s) {
        if (!t_ctx.deferred) dispatch(q, s);  // else `s` already holds the refusal
      });
  h.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
    // Library-made errors (400 bad request line, 413, 414, 416...) get the
    // contract's body; responses that already have one are left alone.
    if (res.body.empty() && !res.content_provider_)
      set_detail(res, res.status, status_text(res.status));
    finish_headers(res);
    (void)req;
    return HR::Handled;
  }));
  h.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    // Never let the library put exception text in a header (CVE-2026-28434).
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const BodyTimeout&) {
      // The connection loop closes the connection after this answer.
      res.set_header("Connection", "close");
      set_detail(res, 408, "Request body not received in time");
      return;
    } catch (const StorageUnavailable& e) {
      Log::instance().error("storage unavailable", {{"error", e.what()}});
      res.set_header("Retry-After", "5");
      set_detail(res, 503, "Storage unavailable; try again later");
      return;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    Log::instance().error("internal error", {{"error", what}});
    set_detail(res, 500, "Internal error");
  });
  h.set_logger([this](const Request& q, const Response& r) { log_request(q, r); });
}

// ---- pre-routing ---------------------------------------------------------------

HR Server::Impl::pre_route(const Request& req, Response& res) {
  t_ctx = RequestState{};
  t_ctx.start_ns = mono_ns();
  t_ctx.id = metrics.next_request_id();
  // Overlapping ranges multiply a response; mlgate serves no ranges.
  const_cast<Request&>(req).ranges.clear();
  GateVerdict v = gate->check(request_view(req), wall_ms());
  static_cast<RequestContext&>(t_ctx) = std::move(v.ctx);
  if (v.event == GateEvent::RateLimited) metrics.rate_limited.fetch_add(1, std::memory_order_relaxed);
  if (v.event == GateEvent::AuthFailed) metrics.auth_failures.fetch_add(1, std::memory_order_relaxed);
  switch (v.next) {
    case GateNext::Handle:
      dispatch(req, res);
      finish_headers(res);
      return HR::Handled;
    case GateNext::ReadBody:      // the library reads the body, then dispatch()
    case GateNext::ReadTooLarge:  // the library drains the body and answers 413
      return HR::Unhandled;
    case GateNext::Refuse:
    case GateNext::RefuseAfterBody:
    case GateNext::RefuseClose:
      break;
  }
  if (v.detail.empty()) res.status = v.status;  // a preflight's 204
  else set_detail(res, v.status, v.detail);
  set_headers(res, v.headers);
  finish_headers(res);
  if (v.next == GateNext::RefuseAfterBody) {
    // The route's handler leaves this response as it is.
    t_ctx.deferred = true;
    return HR::Unhandled;
  }
  if (v.next == GateNext::RefuseClose) close_after(res);
  return HR::Handled;
}

void Server::Impl::add_cors(const Request& req, Response& res) {
  if (cfg.cors_origins.empty() || !req.has_header("Origin")) return;
  HeaderList h;
  if (add_cors_headers(cfg.cors_origins, req.get_header_value("Origin"), req.method == "OPTIONS", h))
    set_headers(res, h);
}

void Server::Impl::finish_headers(Response& res) {
  if (res.has_header("X-Request-Id")) return;  // already done (error handler)
  res.set_header("X-Request-Id", std::to_string(t_ctx.id));
  if (!t_ctx.rl_policy.empty()) {
    res.set_header("RateLimit-Policy", t_ctx.rl_policy);
    res.set_header("RateLimit", t_ctx.rl_state);
  }
}

void Server::Impl::dispatch(const Request& req, Response& res) {
  if (!t_ctx.route) {  // cannot happen: every POST route passed pre_route
    set_detail(res, 404, "Not Found");
    return;
  }
  switch (t_ctx.route->id) {
    case RouteId::Root: h_root(req, res); break;
    case RouteId::Health: h_health(req, res); break;
    case RouteId::Predict: h_predict(req, res); break;
    case RouteId::GetJob: h_get_job(req, res); break;
    case RouteId::ListJobs: h_list_jobs(req, res); break;
    case RouteId::CancelJob: h_cancel_job(req, res); break;
    case RouteId::Metrics: h_metrics(req, res); break;
    case RouteId::OpenApi: h_openapi(req, res); break;
    case RouteId::Docs: h_docs(req, res); break;
  }
  if (req.has_header("Origin")) add_cors(req, res);
  finish_headers(res);
}

void Server::Impl::log_request(const Request& req, const Response& res) {
  // The library calls the logger last for every request, including those it
  // refuses itself before pre-routing (a bad request line): clear the
  // context afterwards so such a request never inherits the previous one's
  // key, route or limits on this thread.
  struct Reset {
    ~Reset() { t_ctx = RequestState{}; }
  } reset;
  metrics.count_response(res.status);
  // No start time: refused by the library before pre-routing, latency unknown.
  const int64_t elapsed_ns = t_ctx.start_ns ? mono_ns() - t_ctx.start_ns : -1;
  if (elapsed_ns >= 0)
    metrics.observe(t_ctx.route ? static_cast<size_t>(t_ctx.route->id) : kRouteCount, res.status,
                    elapsed_ns);
  if (!cfg.access_log) return;
  Log::instance().line(access_log_line(t_ctx, t_ctx.id, res.status, elapsed_ns, wall_ms()));
  (void)req;
}

// ---- lifecycle ----------------------------------------------------------------

void Server::Impl::take_integrity_result() {
  if (!integrity) return;
  auto r = integrity->wait_for(std::chrono::milliseconds(0));
  if (!r) return;
  integrity.reset();
  if (!r->problem.empty()) {
    // Found after start-up: reported by /health until a restart, whose own
    // check then refuses the file.
    store->mark_corrupt(r->problem);
    Log::instance().error("database is corrupt; restore it from a backup",
                          {{"problem", r->problem}, {"ms", r->ms}});
  } else {
    log_integrity_ok(*r);
  }
}

void Server::Impl::maintain(std::stop_token st) {
  using namespace std::chrono;
  auto next_slow = steady_clock::now() + seconds(30);
  while (sleep_for(st, milliseconds(250))) {
    take_integrity_result();
    try {
      keys->refresh();  // CLI changes to keys take effect within a second
      if (key_refresh_failing) Log::instance().info("key refresh works again");
      key_refresh_failing = false;
    } catch (const std::exception& e) {
      // Once per failing run: a database down for an hour is not 14,400 lines.
      if (!key_refresh_failing) Log::instance().warn("key refresh failed", {{"error", e.what()}});
      key_refresh_failing = true;
    }
    if (hook) hook("WATCHDOG=1");
    if (steady_clock::now() < next_slow) continue;
    next_slow = steady_clock::now() + seconds(30);
    try {
      keys->flush_last_used();
      limiter->persist();
      // Retention in small batches: the writer interleaves them with jobs.
      while (!st.stop_requested() &&
             store->purge_finished(wall_ms() - cfg.retention_ms, 500) == 500) {
      }
    } catch (const std::exception& e) {
      Log::instance().warn("maintenance failed", {{"error", e.what()}});
    }
  }
}

Server::Server(Config cfg, std::unique_ptr<Model> model)
    : impl_(std::make_unique<Impl>(std::move(cfg), std::move(model))) {}

Server::~Server() { stop(); }

void Server::bind() {
  auto& i = *impl_;
  if (i.cfg.port == 0) {
    i.bound_port = i.http->bind_to_any_port(i.cfg.host);
  } else if (i.http->bind_to_port(i.cfg.host, i.cfg.port)) {
    i.bound_port = i.cfg.port;
  }
  if (i.bound_port <= 0)
    throw StartupError("cannot listen on " + i.cfg.host + ":" + std::to_string(i.cfg.port) +
                       " (port in use or address not available)");
  i.http->raise_backlog(1024);
}

int Server::port() const { return impl_->bound_port; }

void Server::set_lifecycle_hook(std::function<void(const char*)> hook) {
  impl_->hook = std::move(hook);
}

void Server::run() {
  auto& i = *impl_;
  {
    std::lock_guard lock(i.stop_mu);
    i.ran = true;
  }
  i.workers->start();  // pending jobs from before are queued, oldest first
  i.maintenance = std::jthread([&i](std::stop_token st) {
    set_thread_name("mlg-maint");
    i.maintain(st);
  });
  Log::instance().info("listening", {{"host", i.cfg.host},
                                     {"port", i.bound_port},
                                     {"data_dir", i.cfg.data_dir},
                                     {"model", i.model->name()},
                                     {"unfinished_jobs", i.store->unfinished()}});
  if (i.hook) i.hook("READY=1");
  i.http->listen_after_bind();
  std::lock_guard lock(i.served_mu);
  i.served_out = true;
  i.served_cv.notify_all();
}

void Server::stop() {
  auto& i = *impl_;
  std::lock_guard lock(i.stop_mu);
  if (i.stopped) return;
  i.stopped = true;
  if (i.hook) i.hook("STOPPING=1");
  i.draining = true;
  // Requests waiting for a job (Prefer: wait) answer 202 now rather than
  // hold the stop for up to their full wait.
  i.store->close_waits();
  i.http->stop_and_wake();  // no new connections; idle ones close, busy ones after their request
  // The store, keys and limiter below are freed only once no request is
  // left in a handler (found by ThreadSanitizer: /health read the store as
  // stop() reset it). Requests are bounded by the body deadline and the
  // waits closed above, so this is not forever; past the bound the store
  // is left to the process's exit rather than freed under a request.
  bool drained = true;
  if (i.ran) {
    std::unique_lock lock(i.served_mu);
    const auto bound = std::chrono::milliseconds(std::max<int64_t>(i.cfg.body_timeout_ms, 5'000) + 5'000);
    drained = i.served_cv.wait_for(lock, bound, [&i] { return i.served_out; });
    if (!drained) Log::instance().warn("requests still running at stop; the database is left to exit");
  }
  i.maintenance = std::jthread();
  i.integrity.reset();  // interrupts a check still running
  i.workers->stop(std::chrono::milliseconds(i.cfg.shutdown_grace_ms));
  i.store->set_events({});  // a shared store's notifications no longer reach the pool
  try {
    i.keys->flush_last_used();
    i.limiter->persist();
  } catch (const std::exception& e) {
    Log::instance().warn("could not save state at shutdown", {{"error", e.what()}});
  }
  if (drained) i.store.reset();  // commits what is queued, checkpoints, closes
  if (i.ran) Log::instance().info("stopped");
  Log::instance().flush();
}

}  // namespace mlgate
