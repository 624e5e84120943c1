// server.hpp: the whole mlgate service as one object, for main.cpp or for
// any program on the device that embeds it.
//
//   mlgate::Config cfg;                      // defaults as config.hpp gives them
//   cfg.data_dir = "/var/lib/myapp/mlgate";
//   mlgate::Server server(cfg, mlgate::make_model(cfg));
//   server.bind();                           // throws StartupError: port taken, ...
//   std::jthread t([&] { server.run(); });   // serves until stop()
//   ...
//   server.stop();                           // graceful: see below
//
// Contract:
// - The constructor checks the configuration (validate_config; ConfigError),
//   opens (creating) the data directory and its SQLite file, refusing a
//   file that is not an mlgate database or is corrupt, migrates it, returns
//   jobs interrupted by a crash to `pending`, loads the keys and the saved
//   rate-limit state. It throws StartupError with a one-line message on any
//   failure. No signal handlers. Shared with the rest of the process: the
//   log (Log::instance()) and per-thread request state.
// - bind() takes the port; run() serves until stop(). stop() may be called
//   from any thread, once or more: it stops accepting, answers 503 to new
//   jobs on open connections, gives running jobs the configured grace,
//   leaves the rest pending, saves the limiter state and closes the database.
// - The HTTP library is an implementation detail: nothing here includes it.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "config.hpp"
#include "model.hpp"

namespace mlgate {

struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A start-up failure caused by a configured value (a rate, a tier name, a
// certificate or lexicon file that does not load, a password Redis refuses): main.cpp exits 2, as
// for any other bad value; other StartupErrors (port in use, database) are
// runtime failures, exit 1.
struct ConfigError : StartupError {
  using StartupError::StartupError;
};

// The model the configuration names (built-in sentiment, or exec).
std::unique_ptr<Model> make_model(const Config& cfg);

class Server {
 public:
  Server(Config cfg, std::unique_ptr<Model> model);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void bind();
  int port() const;
  void run();
  // Idempotent. Logs "stopped" only after run() began: a server that never
  // served (bind() failed) leaves its caller's error as the only line.
  void stop();
  // Called when the server is ready, stopping, and on each watchdog tick;
  // main.cpp forwards these to systemd.
  void set_lifecycle_hook(std::function<void(const char* state)> hook);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlgate
