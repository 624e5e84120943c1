// server_impl.hpp: Server's state, shared by the files that make up the
// server: server.cpp (start-up, pre-routing, logging, lifecycle) and
// handlers.cpp (one function a route). Private to them; nothing else
// includes it.
#pragma once

#include "server.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "access_log.hpp"
#include "api_key.hpp"
#include "client_address.hpp"
#include "clock.hpp"
#include "conn_loop.hpp"
#include "conn_pool.hpp"
#include "docs_page.hpp"
#include "conn_stream.hpp"
#include "cursor.hpp"
#include "database_url.hpp"
#include "db_file.hpp"
#include "http_framing.hpp"
#include "job_store.hpp"
#include "key_store.hpp"
#include "log.hpp"
#include "limiter_factory.hpp"
#include "metrics.hpp"
#include "routes.hpp"
#include "security.hpp"
#include "sqlite_stores.hpp"
#include "validation.hpp"
#include "worker_pool.hpp"
#include "thread_name.hpp"

namespace mlgate {

using httplib::Request;
using httplib::Response;
using json = nlohmann::json;
using HR = httplib::Server::HandlerResponse;

// What the gate learned about the request being served, carried from the
// pre-routing handler to the route handler and the logger. The library
// gives those callbacks no place for it, but runs all three on the one
// connection thread that serves the request, so a thread_local carries it.
struct RequestState : RequestContext {
  int64_t start_ns = 0;
  uint64_t id = 0;
  bool deferred = false;  // refused; the response waits until the body is read
};
extern thread_local RequestState t_ctx;  // defined in server.cpp

struct Server::Impl {
  Config cfg;
  std::unique_ptr<Model> model;
  std::string db_path;
  bool key_refresh_failing = false;  // maintenance thread only
  std::unique_ptr<JobStore> store;
  std::unique_ptr<CursorCodec> cursors;
  std::unique_ptr<IntegrityCheck> integrity;  // still running after start-up; maintain() owns it then
  std::unique_ptr<KeyStore> keys;
  std::unique_ptr<LimiterStateStore> limiter_state;  // writes through store: goes first
  std::unique_ptr<Limiter> limiter;
  std::unique_ptr<Gate> gate;
  std::unique_ptr<WorkerPool> workers;
  Metrics metrics;
  DocsPage docs = docs_page(openapi_document(MLGATE_VERSION));  // rendered once
  std::atomic<size_t> waiting{0};  // requests in a `Prefer: wait` now
  size_t max_waiting = 0;          // their bound (cfg.max_waiting resolved)

  ConnPool* pool = nullptr;  // owned by the library once handed over
  std::unique_ptr<HttpServer> http;
  int bound_port = -1;
  std::atomic<bool> draining{false};
  std::function<void(const char*)> hook;

  std::mutex stop_mu;  // serialises stop()
  bool stopped = false;
  bool ran = false;  // run() began: stop() then says "stopped"
  // Set when run()'s listen has returned, which is after every connection
  // thread has ended: until then a handler may still be using the store.
  std::mutex served_mu;
  std::condition_variable served_cv;
  bool served_out = false;
  std::jthread maintenance;

  Impl(Config c, std::unique_ptr<Model> m);
  void open_storage();
  void open_shared_storage(const DatabaseTarget& target);  // PostgreSQL
  void build_limiter(LimiterFactory& limiters, GatePolicyIds ids);
  void build_http();
  void maintain(std::stop_token st);
  void take_integrity_result();

  // Pre-routing: the gate, then the route's handler or the refusal.
  HR pre_route(const Request& req, Response& res);
  void add_cors(const Request& req, Response& res);
  void finish_headers(Response& res);

  // Handlers.
  void h_root(const Request&, Response&);
  void h_health(const Request&, Response&);
  void h_predict(const Request&, Response&);
  void h_get_job(const Request&, Response&);
  void h_list_jobs(const Request&, Response&);
  void h_cancel_job(const Request&, Response&);
  void h_metrics(const Request&, Response&);
  void h_openapi(const Request&, Response&);
  void h_docs(const Request&, Response&);
  void dispatch(const Request& req, Response& res);

  void log_request(const Request& req, const Response& res);
};

}  // namespace mlgate
