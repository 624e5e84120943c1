#include "config.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "client_address.hpp"
#include "config_values.hpp"
#include "printable.hpp"
#include "rate_limiter.hpp"
#include "database_url.hpp"
#include "redis_url.hpp"

namespace mlgate {
namespace {

using namespace config_values;

#if MLGATE_HAVE_HIREDIS
constexpr bool kHaveRedis = true;
#else
constexpr bool kHaveRedis = false;
#endif

// Applies one textual value to the config; returns an error or "".
using Setter = std::function<std::string(Config&, const std::string&)>;

// What a value in the JSON file may be: a string; a number (or a string of
// one); a boolean (or a string of one).
enum class JsonType { String, Number, Bool };

struct Option {
  const char* flag;  // without "--"
  const char* help;
  bool repeatable;
  JsonType type;
  Setter set;
};

std::string env_name(const char* flag) {
  std::string s = "MLGATE_";
  for (const char* p = flag; *p; ++p) s += *p == '-' ? '_' : static_cast<char>(std::toupper(*p));
  return s;
}

std::string json_key(const char* flag) {
  std::string s;
  for (const char* p = flag; *p; ++p) s += *p == '-' ? '_' : *p;
  return s;
}

const std::vector<Option>& options() {
  using J = JsonType;
  static const std::vector<Option> opts = {
      {"host", "address to listen on (default 127.0.0.1)", false, J::String,
       [](Config& c, const std::string& v) {
         if (auto e = host_error(v); !e.empty()) return e;
         c.host = v;
         return std::string();
       }},
      {"port", "TCP port; 0: one the kernel picks (default 8000)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.port, v, 0, 65535); }},
      {"data-dir", "folder of the SQLite file (default $STATE_DIRECTORY or ./mlgate-data)",
       false, J::String,
       [](Config& c, const std::string& v) { return set_text(c.data_dir, v, "a folder"); }},
      {"database", "where keys and jobs live: sqlite:///PATH or postgresql://USER@HOST/DBNAME "
                   "(default: mlgate.db in the data folder)", false, J::String,
       [](Config& c, const std::string& v) {
         if (auto r = parse_database_url(v); !r.target) return r.error;  // never shows the password
         c.database = v;
         return std::string();
       }},
      {"workers", "model worker threads (default 2)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.workers, v, 1, 256); }},
      {"limit-ip", "per-address limit on every route (default 50/s,burst=100)", false, J::String,
       [](Config& c, const std::string& v) { return set_rate(c.limit_ip, v); }},
      {"tier", "NAME=RATE: adds or redefines a key tier's POST /predict limit "
               "(repeatable; default free=5/min, premium=20/min)",
       true, J::String,
       [](Config& c, const std::string& v) {
         auto eq = v.find('=');
         if (eq == std::string::npos) return std::string("expected NAME=RATE");
         std::string name = v.substr(0, eq), rate = v.substr(eq + 1);
         if (auto e = tier_name_error(name); !e.empty()) return e;
         if (auto e = rate_error(rate); !e.empty()) return "tier " + name + ": " + e;
         c.tiers[name] = rate;
         return std::string();
       }},
      {"limit-poll", "per-key limit on the job read routes (default 10/s,burst=20)", false, J::String,
       [](Config& c, const std::string& v) { return set_rate(c.limit_poll, v); }},
      {"limit-auth-fail", "failed key attempts per address (default 20/min)", false, J::String,
       [](Config& c, const std::string& v) { return set_rate(c.limit_auth_fail, v); }},
      {"trusted-proxy", "CIDR whose X-Forwarded-For is believed (repeatable)", true, J::String,
       [](Config& c, const std::string& v) {
         if (auto e = cidr_error(v); !e.empty()) return e;
         c.trusted_proxies.push_back(v);
         return std::string();
       }},
      {"ipv6-prefix", "IPv6 clients are limited per this prefix length (default 64)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.ipv6_prefix, v, 1, 128); }},
      {"limit-table-size", "clients the limiter remembers (default 100000)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.limit_table_size, v, 1024, 100'000'000); }},
      {"redis", "share rate limits through Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] or "
                "unix:///PATH[?db=N] (default none: this instance's own limiter)", false, J::String,
       [](Config& c, const std::string& v) {
         if (auto r = parse_redis_url(v); !r.target) return r.error;  // never shows the password
         c.redis = v;
         return std::string();
       }},
      {"redis-prefix", "prefix of mlgate's Redis keys (default mlgate:)", false, J::String,
       [](Config& c, const std::string& v) {
         if (v.size() > 100) return std::string("at most 100 characters");
         c.redis_prefix = v;
         return std::string();
       }},
      {"redis-fail", "while Redis is unavailable: local (this instance's limiter), closed (503) "
                     "or open (no limits) (default local)", false, J::String,
       [](Config& c, const std::string& v) {
         if (v != "local" && v != "closed" && v != "open")
           return std::string("expected local, closed or open");
         c.redis_fail = v;
         return std::string();
       }},
      {"redis-connect-timeout", "connecting to Redis, and its probe (default 50ms)", false, J::String,
       [](Config& c, const std::string& v) { return set_ms(c.redis_connect_timeout_ms, v, 1, 10'000); }},
      {"redis-timeout", "the most a request waits on Redis (default 20ms)", false, J::String,
       [](Config& c, const std::string& v) { return set_ms(c.redis_timeout_ms, v, 1, 10'000); }},
      {"max-body", "largest request body in bytes (default 65536)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.max_body_bytes, v, 1024, 16 << 20); }},
      {"max-head-bytes", "largest request line and headers in bytes; past this, 431 (default 65536)",
       false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.max_head_bytes, v, 1024, 1 << 20); }},
      {"max-connections", "connection threads; past this, 503 (default 1024)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.max_connections, v, 4, 65536); }},
      {"max-connections-per-address", "open connections of one peer address; past this, 503 "
       "(default a quarter of --max-connections; behind a proxy, see README)", false, J::Number,
       [](Config& c, const std::string& v) {
         return set_int(c.max_connections_per_address, v, 1, 65536);
       }},
      {"head-timeout", "time a request's line and headers may take to arrive (default 10s)", false,
       J::String, [](Config& c, const std::string& v) { return set_positive_duration(c.head_timeout_ms, v); }},
      {"body-timeout", "time a request's body may take to arrive (default 30s)", false, J::String,
       [](Config& c, const std::string& v) { return set_positive_duration(c.body_timeout_ms, v); }},
      {"max-waiting", "Prefer: wait requests held at once; past it, 202 at once "
                      "(default a quarter of --max-connections)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.max_waiting, v, 1, 65536); }},
      {"keep-alive-timeout", "seconds an idle connection is kept (default 5)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.keep_alive_timeout_s, v, 1, 3600); }},
      {"cors-origin", "an exact origin allowed by CORS (repeatable; default none)", true, J::String,
       [](Config& c, const std::string& v) {
         if (auto e = origin_error(v); !e.empty()) return e;
         c.cors_origins.push_back(v);
         return std::string();
       }},
      {"access-log", "one JSON line per request on stderr (default true)", false, J::Bool,
       [](Config& c, const std::string& v) { return set_bool(c.access_log, v); }},
      {"tls-cert", "PEM certificate file (with --tls-key: HTTPS)", false, J::String,
       [](Config& c, const std::string& v) { return set_text(c.tls_cert, v, "a file"); }},
      {"tls-key", "PEM private key file", false, J::String,
       [](Config& c, const std::string& v) { return set_text(c.tls_key, v, "a file"); }},
      {"queue-max", "unfinished jobs before POST /predict answers 503 (default 10000)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.queue_max, v, 1, 100'000'000); }},
      {"max-attempts", "attempts before a job is failed (default 3)", false, J::Number,
       [](Config& c, const std::string& v) { return set_int(c.max_attempts, v, 1, 100); }},
      {"job-lease", "with a PostgreSQL --database: a running job whose instance stops renewing its "
                    "lease is taken over after this (default 15s)", false, J::String,
       [](Config& c, const std::string& v) { return set_ms(c.job_lease_ms, v, 1000, 3'600'000); }},
      {"retention", "finished jobs are deleted after this (default 7d)", false, J::String,
       [](Config& c, const std::string& v) {
         return set_duration(c.retention_ms, v, 0, "such as 90s, 15m, 24h or 7d (at most 36500d)");
       }},
      {"shutdown-grace", "time running jobs get to finish on SIGTERM (default 10s)", false, J::String,
       [](Config& c, const std::string& v) {
         return set_duration(c.shutdown_grace_ms, v, 0, "such as 10s or 5m (at most 36500d)");
       }},
      {"model", "sentiment (built in) or exec (default sentiment)", false, J::String,
       [](Config& c, const std::string& v) {
         if (v != "sentiment" && v != "exec") return std::string("expected sentiment or exec");
         c.model = v;
         return std::string();
       }},
      {"lexicon", "sentiment: a lexicon file replacing the built-in one", false, J::String,
       [](Config& c, const std::string& v) { return set_text(c.lexicon, v, "a file"); }},
      {"exec", "exec: the model's command line, run through /bin/sh", false, J::String,
       [](Config& c, const std::string& v) { return set_text(c.exec_command, v, "a command"); }},
      {"exec-timeout", "exec: time one job may take (default 30s)", false, J::String,
       [](Config& c, const std::string& v) {
         return set_duration(c.exec_timeout_ms, v, 1000, "such as 30s or 5m (1s to 36500d)");
       }},
  };
  return opts;
}

const Option* find_option(const std::string& flag) {
  for (auto& o : options())
    if (flag == o.flag) return &o;
  return nullptr;
}

std::string apply(Config& c, const Option& o, const std::string& v, const std::string& where) {
  std::string err = o.set(c, v);
  return err.empty() ? err : where + ": " + err;
}

// One JSON value as the option's text, or why it cannot be one: a string
// option takes a string, a number option a number (or a string of one), a
// boolean option true/false (or a string of one).
std::optional<std::string> json_scalar(const nlohmann::json& v, JsonType t, std::string& why) {
  if (v.is_string()) return v.get<std::string>();
  if (t == JsonType::Number && v.is_number()) return v.dump();
  if (t == JsonType::Bool && v.is_boolean()) return v.dump();
  why = t == JsonType::String ? "expected a string"
        : t == JsonType::Number ? "expected a number"
                                : "expected true or false";
  return std::nullopt;
}

// "parse error at line 2, column 9: ..." from nlohmann's exception text,
// without its "[json.exception.parse_error.101] " tag; one line.
std::string json_error_text(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  if (auto tag = what.find("] "); what.rfind("[json.", 0) == 0 && tag != std::string::npos)
    what.erase(0, tag + 2);
  // The message quotes the bytes it last read, which may be control or
  // non-ASCII bytes of the file (found by fuzz.config): one printable line.
  return printable(what, 300) + " (byte " + std::to_string(e.byte) + ")";
}

// Values from the JSON file: strings, numbers, booleans, or arrays of them
// for repeatable options; "tier" may also be an object {"free": "5/min"}.
std::string apply_file(Config& c, const std::string& path) {
  // A folder opens, then fails on the first read with an exception (it
  // crashed a --config pointing at one).
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return "cannot read config file " + printable(path, 1024) + ": it is a folder";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read config file " + printable(path, 1024) + ": " + std::strerror(errno);
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return "cannot read config file " + printable(path, 1024);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    return "config file " + printable(path, 1024) + " is not valid JSON: " + json_error_text(e);
  } catch (const nlohmann::json::exception&) {
    // out_of_range: a number no double holds ({"port": 1e400}); it
    // escaped as an uncaught exception before (found by fuzz.config).
    return "config file " + printable(path, 1024) + " holds a number too large to read";
  }
  if (!j.is_object()) return "config file " + printable(path, 1024) + " is not a JSON object";
  for (auto& [key, val] : j.items()) {
    std::string where = "config file " + printable(path, 1024) + ", key \"" + printable(key) + "\"";
    const Option* opt = nullptr;
    for (auto& o : options())
      if (json_key(o.flag) == key) opt = &o;
    if (!opt) return "config file " + printable(path, 1024) + ": unknown key \"" + printable(key) + "\"";
    std::vector<std::string> values;
    std::string why;
    auto add = [&](const nlohmann::json& v, const std::string& prefix = "") {
      auto text = json_scalar(v, opt->type, why);
      if (text) values.push_back(prefix + *text);
      return text.has_value();
    };
    bool ok = true;
    if (key == "tier" && val.is_object()) {
      for (auto& [n, r] : val.items()) ok = ok && add(r, n + "=");
    } else if (val.is_array() && opt->repeatable) {
      for (auto& v : val) ok = ok && add(v);
    } else {
      ok = add(val);
    }
    if (!ok) return where + ": " + why;
    for (auto& v : values)
      if (auto e = apply(c, *opt, v, where); !e.empty()) return e;
  }
  return "";
}

// MLGATE_TIER="gold=100/min,burst=10,free=1/s": a comma-separated list in
// which a "burst=B" item belongs to the rate before it.
std::vector<std::string> split_env_list(const std::string& v, bool rates) {
  std::vector<std::string> items;
  std::stringstream ss(v);
  for (std::string item; std::getline(ss, item, ',');) {
    if (rates && !items.empty() && item.rfind("burst=", 0) == 0) items.back() += "," + item;
    else items.push_back(item);
  }
  return items;
}

}  // namespace

std::optional<int64_t> parse_duration_ms(std::string_view s) {
  // Digits only: from_chars would also take "-0".
  if (s.size() < 2 || s[0] < '0' || s[0] > '9') return std::nullopt;
  int64_t unit;
  switch (s.back()) {
    case 's': unit = 1000; break;
    case 'm': unit = 60'000; break;
    case 'h': unit = 3'600'000; break;
    case 'd': unit = 86'400'000; break;
    default: return std::nullopt;
  }
  int64_t n = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size() - 1, n);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() - 1 || n < 0 ||
      n > INT64_MAX / unit)
    return std::nullopt;
  return n * unit;
}

std::string default_data_dir(const EnvLookup& env) {
  if (auto s = env("STATE_DIRECTORY"); s && !s->empty()) {
    // systemd may list several directories separated by ':'; use the first.
    return s->substr(0, s->find(':'));
  }
  return "./mlgate-data";
}

ConfigResult parse_serve_config(const std::vector<std::string>& args, const EnvLookup& env) {
  // First pass: split flags, find the config file.
  std::vector<std::pair<const Option*, std::string>> flags;
  std::optional<std::string> file = env("MLGATE_CONFIG");
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) return {std::nullopt, "unexpected argument: " + printable(a)};
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "config") {
      if (!has_value && i + 1 >= args.size()) return {std::nullopt, "--config needs a value"};
      file = has_value ? value : args[++i];
      continue;
    }
    const Option* o = find_option(name);
    if (!o) return {std::nullopt, "unknown option --" + printable(name)};
    if (!has_value) {
      if (o->type == JsonType::Bool && (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)) {
        value = "true";
      } else {
        if (i + 1 >= args.size()) return {std::nullopt, "--" + name + " needs a value"};
        value = args[++i];
      }
    }
    flags.emplace_back(o, value);
  }

  Config c;
  if (file) {
    if (auto e = apply_file(c, *file); !e.empty()) return {std::nullopt, e};
  }
  for (auto& o : options()) {
    auto v = env(env_name(o.flag));
    if (!v) continue;
    if (o.repeatable) {
      // A list in the environment: comma-separated, replacing the file's.
      Config fresh;
      if (std::string(o.flag) == "tier") c.tiers = fresh.tiers;
      if (std::string(o.flag) == "trusted-proxy") c.trusted_proxies.clear();
      if (std::string(o.flag) == "cors-origin") c.cors_origins.clear();
      for (auto& item : split_env_list(*v, std::string(o.flag) == "tier"))
        if (auto e = apply(c, o, item, env_name(o.flag)); !e.empty()) return {std::nullopt, e};
    } else if (auto e = apply(c, o, *v, env_name(o.flag)); !e.empty()) {
      return {std::nullopt, e};
    }
  }
  // Repeatable flags on the command line replace lists from elsewhere (but
  // --tier adds to the built-in tiers, so `--tier gold=100/min` keeps free).
  bool cleared_proxies = false, cleared_cors = false;
  for (auto& [o, v] : flags) {
    std::string f = o->flag;
    if (f == "trusted-proxy" && !cleared_proxies) c.trusted_proxies.clear(), cleared_proxies = true;
    if (f == "cors-origin" && !cleared_cors) c.cors_origins.clear(), cleared_cors = true;
    if (auto e = apply(c, *o, v, "--" + f); !e.empty()) return {std::nullopt, e};
  }
  if (c.data_dir.empty()) c.data_dir = default_data_dir(env);
  if (auto e = validate_config(c); !e.empty()) return {std::nullopt, e};
  return {c, ""};
}

std::string tier_name_error(std::string_view name) {
  std::string shown = "tier name \"" + printable(name, 40) + "\"";  // may hold any byte
  if (!valid_policy_name(name)) return shown + " must be 1-32 of A-Z a-z 0-9 _ . -";
  if (name == "ip" || name == "auth_fail" ||
      (name.size() >= 5 && name.substr(name.size() - 5) == ".poll"))
    return shown + " is reserved (ip, auth_fail and NAME.poll are the server's own limits)";
  return "";
}

std::string validate_config(const Config& c) {
  if (auto e = host_error(c.host); !e.empty()) return "host: " + e;
  if (c.data_dir.empty()) return "data_dir: expected a folder, not an empty value";
  for (auto [name, rate] : {std::pair{"limit_ip", &c.limit_ip}, std::pair{"limit_poll", &c.limit_poll},
                            std::pair{"limit_auth_fail", &c.limit_auth_fail}})
    if (auto e = rate_error(*rate); !e.empty()) return std::string(name) + ": " + e;
  if (!c.tiers.count("free"))
    return "the tier \"free\" must stay defined (keys of unknown tiers are limited as free)";
  for (auto& [name, rate] : c.tiers) {
    if (auto e = tier_name_error(name); !e.empty()) return "tier: " + e;
    if (auto e = rate_error(rate); !e.empty()) return "tier " + name + ": " + e;
  }
  for (auto& p : c.trusted_proxies)
    if (auto e = cidr_error(p); !e.empty()) return "trusted_proxy: " + e;
  for (auto& o : c.cors_origins)
    if (auto e = origin_error(o); !e.empty()) return "cors_origin " + printable(o, 200) + ": " + e;
  if (c.tls_cert.empty() != c.tls_key.empty()) return "--tls-cert and --tls-key go together";
  if (c.model != "sentiment" && c.model != "exec") return "model: expected sentiment or exec";
  if (c.model == "exec" && c.exec_command.empty()) return "--model exec needs --exec COMMAND";
  if (!c.database.empty()) {
    auto d = parse_database_url(c.database);
    if (!d.target) return "--database: " + d.error;
    if (d.target->kind == DatabaseTarget::Postgres && !MLGATE_HAVE_LIBPQ)
      return "--database: this mlgate was built without PostgreSQL support (libpq)";
  }
  if (!c.redis.empty()) {
    if (!kHaveRedis) return "--redis: this mlgate was built without Redis support (hiredis)";
    if (auto r = parse_redis_url(c.redis); !r.target) return "--redis: " + r.error;
  }
  return "";
}

namespace {

// 604800000 -> "7d": the largest unit that divides it.
std::string format_duration(int64_t ms) {
  for (auto [unit, suffix] : {std::pair{86'400'000LL, 'd'}, std::pair{3'600'000LL, 'h'},
                              std::pair{60'000LL, 'm'}, std::pair{1'000LL, 's'}})
    if (ms % unit == 0 && ms != 0) return std::to_string(ms / unit) + suffix;
  return std::to_string(ms / 1000) + "s";  // 0, or not whole seconds (set by an embedder)
}

// 50 -> "50ms", 1000 -> "1s": what set_ms reads back.
std::string format_ms(int64_t ms) {
  return ms % 1000 == 0 && ms != 0 ? format_duration(ms) : std::to_string(ms) + "ms";
}

}  // namespace

std::string config_to_json(const Config& c) {
  nlohmann::ordered_json j;
  j["host"] = c.host;
  j["port"] = c.port;
  j["data_dir"] = c.data_dir;
  if (!c.database.empty()) {
    auto d = parse_database_url(c.database);
    j["database"] = d.target ? d.target->redacted() : std::string("(invalid)");
  }
  j["workers"] = c.workers;
  j["limit_ip"] = c.limit_ip;
  j["tier"] = c.tiers;
  j["limit_poll"] = c.limit_poll;
  j["limit_auth_fail"] = c.limit_auth_fail;
  j["trusted_proxy"] = c.trusted_proxies;
  j["ipv6_prefix"] = c.ipv6_prefix;
  j["limit_table_size"] = c.limit_table_size;
  if (!c.redis.empty()) {
    // The password never goes to a terminal or a log: printed as *** (a
    // file made from this output needs it put back).
    auto r = parse_redis_url(c.redis);
    j["redis"] = r.target ? r.target->redacted() : std::string("(invalid)");
    j["redis_prefix"] = c.redis_prefix;
    j["redis_fail"] = c.redis_fail;
    j["redis_connect_timeout"] = format_ms(c.redis_connect_timeout_ms);
    j["redis_timeout"] = format_ms(c.redis_timeout_ms);
  }
  j["max_body"] = c.max_body_bytes;
  j["max_head_bytes"] = c.max_head_bytes;
  j["max_connections"] = c.max_connections;
  // 0 is "a quarter of max_connections", which no flag spells: left out.
  if (c.max_connections_per_address) j["max_connections_per_address"] = c.max_connections_per_address;
  j["head_timeout"] = format_duration(c.head_timeout_ms);
  j["body_timeout"] = format_duration(c.body_timeout_ms);
  if (c.max_waiting) j["max_waiting"] = c.max_waiting;
  j["keep_alive_timeout"] = c.keep_alive_timeout_s;
  j["cors_origin"] = c.cors_origins;
  j["access_log"] = c.access_log;
  if (!c.tls_cert.empty()) j["tls_cert"] = c.tls_cert;
  if (!c.tls_key.empty()) j["tls_key"] = c.tls_key;
  j["queue_max"] = c.queue_max;
  j["max_attempts"] = c.max_attempts;
  j["retention"] = format_duration(c.retention_ms);
  if (!c.database.empty() && c.database.rfind("sqlite:", 0) != 0) j["job_lease"] = format_ms(c.job_lease_ms);
  j["shutdown_grace"] = format_duration(c.shutdown_grace_ms);
  j["model"] = c.model;
  if (!c.lexicon.empty()) j["lexicon"] = c.lexicon;
  if (!c.exec_command.empty()) j["exec"] = c.exec_command;
  j["exec_timeout"] = format_duration(c.exec_timeout_ms);
  return j.dump(2);
}

std::string serve_usage() {
  std::string s = "usage: mlgate serve [options]\n";
  for (auto& o : options()) {
    std::string f = std::string("  --") + o.flag + (o.type == JsonType::Bool ? "[=BOOL]" : " V");
    if (f.size() < 26) f.resize(26, ' ');
    s += f + " " + o.help + "  [" + env_name(o.flag) + "]\n";
  }
  s += "  --config F                 JSON file of the same options  [MLGATE_CONFIG]\n";
  s += "  --dry-run                  check the configuration, print it as such a file, exit\n";
  s += "  --help                     this text\n";
  return s;
}

}  // namespace mlgate
