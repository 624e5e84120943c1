#include "config.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace mlgate {
namespace {

// Applies one textual value to the config; returns an error or "".
using Setter = std::function<std::string(Config&, const std::string&)>;

struct Option {
  const char* flag;  // without "--"
  const char* help;
  bool repeatable;
  bool is_bool;
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

template <class T>
std::string set_int(T& out, const std::string& v, long long lo, long long hi) {
  long long x = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || x < lo || x > hi)
    return "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
  out = static_cast<T>(x);
  return "";
}

std::string set_duration(int64_t& out, const std::string& v) {
  auto d = parse_duration_ms(v);
  if (!d) return "expected a duration such as 90s, 15m, 24h or 7d";
  out = *d;
  return "";
}

std::string set_bool(bool& out, const std::string& v) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") out = true;
  else if (v == "0" || v == "false" || v == "no" || v == "off") out = false;
  else return "expected true or false";
  return "";
}

const std::vector<Option>& options() {
  static const std::vector<Option> opts = {
      {"host", "address to listen on (default 127.0.0.1)", false, false,
       [](Config& c, const std::string& v) { c.host = v; return std::string(); }},
      {"port", "TCP port (default 8000)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.port, v, 0, 65535); }},
      {"data-dir", "folder of the SQLite file (default $STATE_DIRECTORY or ./mlgate-data)",
       false, false, [](Config& c, const std::string& v) { c.data_dir = v; return std::string(); }},
      {"workers", "model worker threads (default 2)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.workers, v, 1, 256); }},
      {"limit-ip", "per-address limit on every route (default 50/s,burst=100)", false, false,
       [](Config& c, const std::string& v) { c.limit_ip = v; return std::string(); }},
      {"tier", "NAME=RATE: a key tier's POST /predict limit (default free=5/min, premium=20/min)",
       true, false,
       [](Config& c, const std::string& v) {
         auto eq = v.find('=');
         if (eq == std::string::npos || eq == 0) return std::string("expected NAME=RATE");
         c.tiers[v.substr(0, eq)] = v.substr(eq + 1);
         return std::string();
       }},
      {"limit-poll", "per-key limit on the job read routes (default 10/s,burst=20)", false, false,
       [](Config& c, const std::string& v) { c.limit_poll = v; return std::string(); }},
      {"limit-auth-fail", "failed key attempts per address (default 20/min)", false, false,
       [](Config& c, const std::string& v) { c.limit_auth_fail = v; return std::string(); }},
      {"trusted-proxy", "CIDR whose X-Forwarded-For is believed (repeatable)", true, false,
       [](Config& c, const std::string& v) { c.trusted_proxies.push_back(v); return std::string(); }},
      {"ipv6-prefix", "IPv6 clients are limited per this prefix length (default 64)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.ipv6_prefix, v, 1, 128); }},
      {"limit-table-size", "clients the limiter remembers (default 100000)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.limit_table_size, v, 1024, 100'000'000); }},
      {"max-body", "largest request body in bytes (default 65536)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.max_body_bytes, v, 1024, 16 << 20); }},
      {"max-connections", "connection threads; past this, 503 (default 256)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.max_connections, v, 4, 65536); }},
      {"max-waiting", "Prefer: wait requests held at once; past it, 202 at once "
                      "(default a quarter of --max-connections)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.max_waiting, v, 1, 65536); }},
      {"keep-alive-timeout", "seconds an idle connection is kept (default 5)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.keep_alive_timeout_s, v, 1, 3600); }},
      {"cors-origin", "an exact origin allowed by CORS (repeatable; default none)", true, false,
       [](Config& c, const std::string& v) { c.cors_origins.push_back(v); return std::string(); }},
      {"access-log", "one JSON line per request on stderr (default true)", false, true,
       [](Config& c, const std::string& v) { return set_bool(c.access_log, v); }},
      {"tls-cert", "PEM certificate file (with --tls-key: HTTPS)", false, false,
       [](Config& c, const std::string& v) { c.tls_cert = v; return std::string(); }},
      {"tls-key", "PEM private key file", false, false,
       [](Config& c, const std::string& v) { c.tls_key = v; return std::string(); }},
      {"queue-max", "unfinished jobs before POST /predict answers 503 (default 10000)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.queue_max, v, 1, 100'000'000); }},
      {"max-attempts", "attempts before a job is failed (default 3)", false, false,
       [](Config& c, const std::string& v) { return set_int(c.max_attempts, v, 1, 100); }},
      {"retention", "finished jobs are deleted after this (default 7d)", false, false,
       [](Config& c, const std::string& v) { return set_duration(c.retention_ms, v); }},
      {"shutdown-grace", "time running jobs get to finish on SIGTERM (default 10s)", false, false,
       [](Config& c, const std::string& v) { return set_duration(c.shutdown_grace_ms, v); }},
      {"model", "sentiment (built in) or exec (default sentiment)", false, false,
       [](Config& c, const std::string& v) {
         if (v != "sentiment" && v != "exec") return std::string("expected sentiment or exec");
         c.model = v;
         return std::string();
       }},
      {"lexicon", "sentiment: a lexicon file replacing the built-in one", false, false,
       [](Config& c, const std::string& v) { c.lexicon = v; return std::string(); }},
      {"exec", "exec: the model's command line, run through /bin/sh", false, false,
       [](Config& c, const std::string& v) { c.exec_command = v; return std::string(); }},
      {"exec-timeout", "exec: time one job may take (default 30s)", false, false,
       [](Config& c, const std::string& v) { return set_duration(c.exec_timeout_ms, v); }},
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

// Values from the JSON file: strings, numbers, booleans, or arrays of them
// for repeatable options; "tier" may also be an object {"free": "5/min"}.
std::string apply_file(Config& c, const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read config file " + path;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "config file " + path + " is not a JSON object";
  for (auto& [key, val] : j.items()) {
    const Option* opt = nullptr;
    for (auto& o : options())
      if (json_key(o.flag) == key) opt = &o;
    if (!opt) return "config file " + path + ": unknown key \"" + key + "\"";
    std::vector<std::string> values;
    auto scalar = [](const nlohmann::json& v) {
      return v.is_string() ? v.get<std::string>() : v.dump();
    };
    if (key == "tier" && val.is_object()) {
      for (auto& [n, r] : val.items()) values.push_back(n + "=" + scalar(r));
    } else if (val.is_array() && opt->repeatable) {
      for (auto& v : val) values.push_back(scalar(v));
    } else {
      values.push_back(scalar(val));
    }
    for (auto& v : values)
      if (auto e = apply(c, *opt, v, "config file key " + key); !e.empty()) return e;
  }
  return "";
}

}  // namespace

std::optional<int64_t> parse_duration_ms(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
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
    if (a.rfind("--", 0) != 0) return {std::nullopt, "unexpected argument: " + a};
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
    if (!o) return {std::nullopt, "unknown option --" + name};
    if (!has_value) {
      if (o->is_bool && (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)) {
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
      std::stringstream ss(*v);
      for (std::string item; std::getline(ss, item, ',');)
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
  if (c.tls_cert.empty() != c.tls_key.empty())
    return {std::nullopt, "--tls-cert and --tls-key go together"};
  if (c.model == "exec" && c.exec_command.empty())
    return {std::nullopt, "--model exec needs --exec COMMAND"};
  return {c, ""};
}

std::string serve_usage() {
  std::string s = "usage: mlgate serve [options]\n";
  for (auto& o : options()) {
    std::string f = std::string("  --") + o.flag + (o.is_bool ? "[=BOOL]" : " V");
    if (f.size() < 26) f.resize(26, ' ');
    s += f + " " + o.help + (o.repeatable ? "" : "") + "  [" + env_name(o.flag) + "]\n";
  }
  s += "  --config F                 JSON file of the same options  [MLGATE_CONFIG]\n";
  return s;
}

}  // namespace mlgate
