// config.hpp: everything `mlgate serve` can be told, with defaults and units.
//
// Every field but read_timeout_s and wait_max_s (fixed by the contract;
// only a program that embeds the server sets them) has a flag (--port), an
// environment variable (MLGATE_PORT) and a key in the optional JSON config
// file ("port"). Precedence: flag, then environment, then file, then the
// default written here. --trusted-proxy and --cors-origin given on the
// command line replace the environment's and the file's list; --tier adds
// to (or redefines in) the tiers from the defaults, the file and the
// environment, so `--tier gold=100/min` keeps free and premium.
//
// Errors: parse_serve_config() refuses every malformed value, naming where
// it came from (--flag, MLGATE_VAR or the file's key), in one line: exit 2.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlgate {

struct Config {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string data_dir;  // default: $STATE_DIRECTORY, else ./mlgate-data
  int workers = 2;       // model worker threads

  // Rate limits (RATE: N/s, N/min or N/h, optionally ",burst=B").
  std::string limit_ip = "50/s,burst=100";  // per client address, every route
  std::map<std::string, std::string> tiers = {{"free", "5/min"}, {"premium", "20/min"}};
  std::string limit_poll = "10/s,burst=20";  // per key, GET and DELETE job routes
  std::string limit_auth_fail = "20/min";    // failed key attempts per address
  std::vector<std::string> trusted_proxies;  // CIDRs whose X-Forwarded-For is believed
  int ipv6_prefix = 64;                      // IPv6 clients are limited per prefix
  size_t limit_table_size = 100'000;         // clients the limiter remembers

  // Limits shared by several instances through Redis (README, "Several
  // instances"). Empty URL: the embedded limiter, and no Redis code runs.
  // Where keys and jobs live (README, "Several instances"). Empty: the
  // SQLite file mlgate.db in data_dir; sqlite:///PATH: that file;
  // postgresql://...: a database several instances share.
  std::string database;
  std::string redis;                          // redis://[:pw@]host[:port][/db] | unix:///path[?db=N]
  std::string redis_prefix = "mlgate:";       // key prefix, so deployments can share one Redis
  std::string redis_fail = "local";           // Redis down: local | closed (503) | open
  int64_t redis_connect_timeout_ms = 50;      // new connections and the background probe
  int64_t redis_timeout_ms = 20;              // the most a request waits on Redis, in all

  // HTTP.
  size_t max_body_bytes = 64 * 1024;
  size_t max_head_bytes = 64 * 1024;  // request line and headers; past this, 431
  size_t max_connections = 1024;      // connection threads; past this, 503
  size_t max_connections_per_address = 0;  // open connections of one peer; 0: max_connections / 4
  size_t max_waiting = 0;        // Prefer: wait requests held at once (0: max_connections / 4)
  int keep_alive_timeout_s = 5;  // an idle keep-alive connection is closed after this
  int64_t head_timeout_ms = 10'000;  // a request's head must arrive within this of its first byte
  int64_t body_timeout_ms = 30'000;  // its body within this of the head's end
  int read_timeout_s = 10;       // each write of a response must complete within this
  std::vector<std::string> cors_origins;  // exact origins; none: CORS off
  bool access_log = true;
  std::string tls_cert, tls_key;  // both set: HTTPS

  // Jobs.
  size_t queue_max = 10'000;     // unfinished jobs; past this, 503
  int max_attempts = 3;
  int64_t job_lease_ms = 15'000;  // PostgreSQL: a dead instance's running jobs, taken over after this
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  int64_t shutdown_grace_ms = 10'000;
  int wait_max_s = 30;           // Prefer: wait=N is capped at this

  // Model.
  std::string model = "sentiment";  // or "exec"
  std::string lexicon;              // sentiment: replace the word lexicon
  std::string exec_command;         // exec: the child's command line
  int64_t exec_timeout_ms = 30'000;
};

struct ConfigResult {
  std::optional<Config> config;
  std::string error;  // one line, for standard error; exit status 2
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses `serve`'s arguments (after the subcommand) with the environment
// and the config file they name (--config F or MLGATE_CONFIG).
ConfigResult parse_serve_config(const std::vector<std::string>& args, const EnvLookup& env);

// What a server cannot run with: a malformed rate, tier name or trusted
// proxy, a tier set without "free", a half-set TLS pair, exec without a
// command. "" when the config is sound. parse_serve_config() already
// checked all of it; Server checks again for programs that build a Config
// themselves.
std::string validate_config(const Config& c);

// The files the config names load as what they should be (a PEM
// certificate and its private key, a lexicon), and the data directory is a
// directory if it exists; "" when so, else one line naming the flag.
// In config_files.cpp.
// Not part of parse_serve_config(): the admin commands read the same
// configuration but need none of these files.
std::string check_config_files(const Config& c);

// Why `name` cannot be a tier, or "" when it can: 1-32 of A-Z a-z 0-9 _ . -,
// and not a name the server uses for its own limits ("ip", "auth_fail", or
// one ending in ".poll", the suffix of each tier's polling limit).
std::string tier_name_error(std::string_view name);

// "90s", "24h", "30d", "15m" -> milliseconds; nullopt when malformed.
std::optional<int64_t> parse_duration_ms(std::string_view s);

// The default data directory: $STATE_DIRECTORY (systemd) or ./mlgate-data.
std::string default_data_dir(const EnvLookup& env);

// The configuration as a JSON config file would hold it (one key per
// option; unset text options left out), for `serve --dry-run`. Read back
// with --config it gives the same configuration.
std::string config_to_json(const Config& c);

// Help text of `serve`, generated from the same option table.
std::string serve_usage();

}  // namespace mlgate
