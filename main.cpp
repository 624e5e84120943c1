// main.cpp: the command line. It parses the subcommand, wires the library's
// pieces together and owns the process's signals; the work is done by the
// headers in src/.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cli_admin.hpp"
#include "cli_predict.hpp"
#include "config.hpp"
#include "log.hpp"
#include "malloc_tuning.hpp"
#include "sd_notify.hpp"
#include "server.hpp"

namespace {

constexpr const char* kUsage =
    "usage: mlgate <command> [options]\n"
    "  serve      run the HTTP job service\n"
    "  predict    score texts from stdin or --text, one JSON line each\n"
    "  keys       create | list | show ID | revoke ID | rotate ID [--grace 24h]\n"
    "  jobs       list | show ID | purge --older-than 7d\n"
    "  version    print the version\n"
    "mlgate <command> --help (and mlgate keys create --help, ...) lists a command's options.\n";

std::optional<std::string> env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? std::optional<std::string>(v) : std::nullopt;
}

int serve(const std::vector<std::string>& args) {
  std::vector<std::string> flags;
  bool dry_run = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << mlgate::serve_usage();
      return 0;
    }
    if (args[i] == "--dry-run") dry_run = true;
    else flags.push_back(args[i]);
  }
  auto parsed = mlgate::parse_serve_config(flags, env);
  if (parsed.config && parsed.error.empty()) parsed.error = mlgate::check_config_files(*parsed.config);
  if (!parsed.error.empty()) {
    std::cerr << mlgate::stderr_priority_prefix(3) << "mlgate: " << parsed.error << '\n';
    return 2;
  }
  if (dry_run) {  // what would be served, e.g. for scripts/quickstart.sh's banner
    std::cout << mlgate::config_to_json(*parsed.config) << '\n';
    return 0;
  }
  // SIGTERM and SIGINT are taken by one thread with sigwait(); every other
  // thread inherits the blocked mask, so no handler runs inside the library.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    mlgate::Server server(*parsed.config, mlgate::make_model(*parsed.config));
    server.set_lifecycle_hook([](const char* state) { mlgate::sd_notify(state); });
    server.bind();
    std::jthread signals([&server, sigs](std::stop_token st) {
      int sig = 0;
      timespec tick{0, 200'000'000};
      while (!st.stop_requested()) {
        siginfo_t info;
        sig = sigtimedwait(&sigs, &info, &tick);
        if (sig > 0) break;
      }
      if (sig > 0) {
        mlgate::Log::instance().info("signal received; stopping", {{"signal", sig}});
        server.stop();
      }
    });
    server.run();
    server.stop();
    signals.request_stop();
  } catch (const mlgate::ConfigError& e) {
    mlgate::Log::instance().flush();
    std::cerr << "mlgate: " << e.what() << '\n';
    return 2;
  } catch (const mlgate::StartupError& e) {
    mlgate::Log::instance().flush();
    std::cerr << mlgate::stderr_priority_prefix(3) << "mlgate: " << e.what() << '\n';
    return dynamic_cast<const mlgate::ConfigError*>(&e) ? 2 : 1;
  }
  mlgate::Log::instance().flush();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mlgate::tune_malloc();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "mlgate: missing command (serve, predict, keys, jobs, version); see mlgate --help\n";
    return 2;
  }
  const std::string& cmd = args[0];
  if (cmd == "serve") return serve(args);
  if (cmd == "predict") return mlgate::run_predict({args.begin() + 1, args.end()}, std::cin, std::cout, std::cerr);
  if (cmd == "keys") return mlgate::run_keys(args, std::cout, std::cerr);
  if (cmd == "jobs") return mlgate::run_jobs(args, std::cout, std::cerr);
  if (cmd == "version" || cmd == "--version") {
    if (args.size() > 1 && (args[1] == "--help" || args[1] == "-h")) {
      std::cout << "usage: mlgate version\n  Prints the version.\n";
      return 0;
    }
    if (args.size() > 1) {
      std::cerr << "mlgate: version takes no argument (got '" << args[1] << "')\n";
      return 2;
    }
    std::cout << "mlgate " << MLGATE_VERSION << '\n';
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "mlgate: unknown command \"" << cmd << "\"; see mlgate --help\n";
  return 2;
}
