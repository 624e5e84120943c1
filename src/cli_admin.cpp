#include "cli_admin.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <map>
#include <optional>
#include <set>
#include <ostream>

#include "clock.hpp"
#include "config.hpp"
#include "data_owner.hpp"
#include "job_store.hpp"
#include "key_store.hpp"
#include "database_url.hpp"
#include "sqlite_stores.hpp"
#include "usage_error.hpp"
#if MLGATE_HAVE_LIBPQ
#include "pg_stores.hpp"
#endif

namespace mlgate {
namespace {

using json = nlohmann::json;

// Longest --expires-in and --grace: 100 years, so that now + the duration
// is a sane time (a larger value, up to what parse_duration_ms allows, would
// overflow the millisecond clock and end the key at once).
constexpr int64_t kMaxDurationMs = 36'500LL * 86'400'000;

// The database (or a record in it) is not where the command looked: exit 1.
struct NotFound : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "--name X", "--name=X", flags without values, and positional words.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;

  Args(const std::vector<std::string>& a, size_t from, const std::vector<const char*>& valued,
       const std::vector<const char*>& boolean) {
    auto is = [](const std::vector<const char*>& l, const std::string& n) {
      for (auto* x : l)
        if (n == x) return true;
      return false;
    };
    for (size_t i = from; i < a.size(); ++i) {
      if (a[i].rfind("--", 0) != 0) {
        positional.push_back(a[i]);
        continue;
      }
      std::string name = a[i].substr(2), value;
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (is(boolean, name)) {
        flags[name] = "1";
      } else if (is(valued, name)) {
        if (eq == std::string::npos) {
          if (i + 1 >= a.size()) throw UsageError("--" + name + " needs a value");
          value = a[++i];
        }
        flags[name] = value;
      } else {
        throw UsageError("unknown option --" + name);
      }
    }
  }
  std::optional<std::string> get(const std::string& n) const {
    auto it = flags.find(n);
    return it == flags.end() ? std::nullopt : std::optional(it->second);
  }
};

std::optional<std::string> getenv_opt(const std::string& n) {
  const char* v = std::getenv(n.c_str());
  return v ? std::optional<std::string>(v) : std::nullopt;
}

// The server's configuration as this command can know it: --config FILE
// (or MLGATE_CONFIG), the MLGATE_* environment, and --data-dir. It gives
// the data directory and the tiers the server is told about. Refused (exit
// 2) when it is malformed, as `serve` would refuse it.
Config server_config(const Args& a) {
  std::vector<std::string> args;
  if (auto f = a.get("config")) args.insert(args.end(), {"--config", *f});
  if (auto d = a.get("data-dir")) args.insert(args.end(), {"--data-dir", *d});
  if (auto d = a.get("database")) args.insert(args.end(), {"--database", *d});
  auto r = parse_serve_config(args, getenv_opt);
  if (!r.config) throw UsageError(r.error);
  return *r.config;
}

// A PostgreSQL database: the CLI connects as the server does, and refuses
// one without mlgate's schema unless asked to --init it.
AdminStores open_shared_stores(const DatabaseTarget& target, bool init) {
#if MLGATE_HAVE_LIBPQ
  try {
    return open_pg_admin(target.url, init);
  } catch (const NotAnMlgateDatabase&) {
    throw NotFound(target.redacted() + " has no mlgate tables; point this command at the server's "
                   "database, or make them with keys create --init");
  } catch (const std::exception& e) {
    throw NotFound("cannot open database " + target.redacted() + ": " + e.what());
  }
#else
  (void)target;
  (void)init;
  throw UsageError("--database: this mlgate was built without PostgreSQL support (libpq)");
#endif
}

// The server's database, never created here: a command run from the wrong
// folder, or without the server's --data-dir, must not answer from (or
// write a key into) a new empty database that the server never reads.
// `init` (keys create --init) is the one exception, asked for by name.
AdminStores open_stores(const Config& cfg, std::ostream& err, bool init = false) {
  namespace fs = std::filesystem;
  DatabaseTarget target;
  if (!cfg.database.empty()) target = *parse_database_url(cfg.database).target;  // validated
  if (target.kind == DatabaseTarget::Postgres) return open_shared_stores(target, init);
  fs::path path = target.path.empty() ? fs::path(cfg.data_dir) / "mlgate.db" : fs::path(target.path);
  const std::string data_dir = path.parent_path().empty() ? "." : path.parent_path().string();
  // As root on the service's directory: work as its owner (data_owner.hpp).
  if (auto owner = act_as_data_owner(data_dir); !owner.empty())
    err << "mlgate: running as " << owner << ", the owner of " << data_dir << '\n';
  std::error_code ec;
  fs::path shown = fs::absolute(path, ec).lexically_normal();
  if (ec) shown = path;
  bool exists = fs::exists(path, ec);
  if (!exists && !init)
    throw NotFound("no mlgate database at " + shown.string() +
                   "; point this command at the server's data with --data-dir DIR, "
                   "MLGATE_DATA_DIR=DIR or --config FILE (keys create --init makes a new one)");
  if (exists && fs::is_regular_file(path, ec) && fs::file_size(path, ec) == 0)
    throw NotFound(shown.string() + " is empty, not an mlgate database; "
                   "restore it from a backup, or point this command elsewhere with --data-dir DIR");
  if (!exists) {
    // Private to this user, as the server's own files are.
    ::umask(077);
    fs::create_directories(data_dir);
  }
  try {
    return open_sqlite_admin(path.string(), exists);
  } catch (const NotAnMlgateDatabase&) {
    throw NotFound(shown.string() + " is not an mlgate database (no schema); "
                   "point this command at the server's data with --data-dir DIR");
  }
}

// The tiers a key may have: those the server defined at its last start on
// this database, and those this command's own view of the configuration
// (defaults, --config, MLGATE_TIER) defines.
struct Tiers {
  std::set<std::string> names;
  Tiers(const Config& cfg, KeyStore& keys) {
    for (auto& [name, rate] : cfg.tiers) names.insert(name);
    for (auto& name : keys.server_tiers()) names.insert(name);
  }
  bool has(const std::string& t) const { return names.count(t) > 0; }
  std::string list() const {
    std::string s;
    for (auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
  }
};

std::string time_or(const std::optional<int64_t>& t, const char* none) {
  return t ? rfc3339(*t) : none;
}

json key_json(const KeyRecord& k, const Tiers& tiers) {
  auto t = [](const std::optional<int64_t>& v) { return v ? json(rfc3339(*v)) : json(nullptr); };
  return {{"id", k.id},           {"name", k.name},
          {"owner", k.owner},     {"tier", k.tier},
          {"tier_configured", tiers.has(k.tier)},
          {"scopes", format_scopes(k.scopes)},
          {"created_at", rfc3339(k.created_at)},
          {"expires_at", t(k.expires_at)},
          {"revoked_at", t(k.revoked_at)},
          {"last_used_at", t(k.last_used_at)},
          {"replaced_by", k.replaced_by ? json(*k.replaced_by) : json(nullptr)}};
}

// A tier the configuration does not define is shown as "gold*", with one
// note on stderr: the server limits such keys as free.
void print_key_table(const std::vector<KeyRecord>& keys, const Tiers& tiers, std::ostream& out,
                     std::ostream& err) {
  out << std::left << std::setw(15) << "ID" << std::setw(16) << "NAME" << std::setw(16) << "OWNER"
      << std::setw(10) << "TIER" << std::setw(22) << "SCOPES" << std::setw(25) << "EXPIRES"
      << std::setw(25) << "REVOKED" << "LAST USED\n";
  bool unknown = false;
  for (auto& k : keys) {
    bool known = tiers.has(k.tier);
    unknown = unknown || !known;
    out << std::setw(15) << k.id << std::setw(16) << k.name << std::setw(16) << k.owner
        << std::setw(10) << (known ? k.tier : k.tier + "*") << std::setw(22)
        << format_scopes(k.scopes) << std::setw(25) << time_or(k.expires_at, "never")
        << std::setw(25) << time_or(k.revoked_at, "-") << time_or(k.last_used_at, "never") << '\n';
  }
  if (unknown)
    err << "mlgate: * tier not configured (configured: " << tiers.list()
        << "); the server limits these keys as free\n";
}

// One admin command: its flags, its help, and what it does.
struct Command {
  const char* name;
  const char* usage;  // the first line of its help, after "usage: mlgate "
  const char* help;   // further lines
  std::vector<const char*> valued, boolean;
  std::function<int(const Args&, std::ostream&, std::ostream&)> run;
};

constexpr const char* kWhere =
    "  --data-dir DIR   the server's data folder (else MLGATE_DATA_DIR, the config file's\n"
    "                   data_dir, $STATE_DIRECTORY, ./mlgate-data)\n"
    "  --database URL   sqlite:///PATH or postgresql://... (else MLGATE_DATABASE, the\n"
    "                   config file's database, the data folder's mlgate.db)\n"
    "  --config FILE    the server's JSON config file (else MLGATE_CONFIG): its data_dir,\n"
    "                   database and tiers\n"
    "  A database is never created where there is none (but by keys create --init).\n";

std::string one_id(const Args& a, const char* what) {
  if (a.positional.size() != 1) throw UsageError(std::string(what) + " needs one ID");
  return a.positional[0];
}

void no_positional(const Args& a, const char* what) {
  if (!a.positional.empty())
    throw UsageError(std::string(what) + " takes no argument (got '" + a.positional[0] + "')");
}

int keys_create(const Args& a, std::ostream& out, std::ostream& err) {
  no_positional(a, "keys create");
  KeyCreateOptions o;
  auto name = a.get("name");
  if (!name || name->empty()) throw UsageError("keys create needs --name NAME");
  o.name = *name;
  o.owner = a.get("owner").value_or("");
  o.tier = a.get("tier").value_or("free");
  if (auto e = tier_name_error(o.tier); !e.empty()) throw UsageError("--tier: " + e);
  if (auto s = a.get("scopes")) {
    auto bits = parse_scopes(*s);
    if (!bits) throw UsageError("--scopes: expected a comma-separated list of " + format_scopes(kAllScopes));
    o.scopes = *bits;
  }
  if (auto e = a.get("expires-in")) {
    o.expires_in_ms = parse_duration_ms(*e);
    if (!o.expires_in_ms || *o.expires_in_ms == 0 || *o.expires_in_ms > kMaxDurationMs)
      throw UsageError("--expires-in: expected a duration such as 30d (at most 36500d)");
  }
  Config cfg = server_config(a);
  AdminStores st = open_stores(cfg, err, a.get("init").has_value());
  Tiers tiers(cfg, *st.keys);
  if (!tiers.has(o.tier) && !a.get("allow-unknown-tier"))
    throw UsageError("--tier " + o.tier + ": not a configured tier (configured: " + tiers.list() +
                     "); start the server with it (or pass its --config FILE), or pass "
                     "--allow-unknown-tier (the server limits the key as free)");
  NewKey nk = st.keys->create(o, wall_ms());
  out << nk.key << std::endl;
  if (!tiers.has(o.tier))
    err << "mlgate: tier " << o.tier << " is not configured; the server limits this key as free\n";
  return 0;
}

int keys_list(const Args& a, std::ostream& out, std::ostream& err) {
  no_positional(a, "keys list");
  Config cfg = server_config(a);
  AdminStores st = open_stores(cfg, err);
  auto keys = st.keys->list();
  Tiers tiers(cfg, *st.keys);
  if (a.get("json")) {
    json arr = json::array();
    for (auto& k : keys) arr.push_back(key_json(k, tiers));
    out << arr.dump(2) << '\n';
  } else {
    print_key_table(keys, tiers, out, err);
  }
  return 0;
}

int keys_show(const Args& a, std::ostream& out, std::ostream& err) {
  std::string id = one_id(a, "keys show");
  Config cfg = server_config(a);
  AdminStores st = open_stores(cfg, err);
  auto k = st.keys->find(id);
  if (!k) throw NotFound("no key with id " + id);
  // Named, not a temporary: a range-for over key_json(*k).items() would
  // iterate a destroyed object (it crashed `keys show ID`).
  json j = key_json(*k, Tiers(cfg, *st.keys));
  if (a.get("json")) {
    out << j.dump(2) << '\n';
  } else {
    for (auto& [f, v] : j.items())
      out << f << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << '\n';
  }
  return 0;
}

int keys_revoke(const Args& a, std::ostream&, std::ostream& err) {
  std::string id = one_id(a, "keys revoke");
  AdminStores st = open_stores(server_config(a), err);
  if (!st.keys->revoke(id, wall_ms())) throw NotFound("no key with id " + id);
  err << "revoked " << id << '\n';
  return 0;
}

int keys_rotate(const Args& a, std::ostream& out, std::ostream& err) {
  std::string id = one_id(a, "keys rotate");
  int64_t grace = 0;
  if (auto g = a.get("grace")) {
    auto d = parse_duration_ms(*g);
    if (!d || *d > kMaxDurationMs)
      throw UsageError("--grace: expected a duration such as 24h (at most 36500d)");
    grace = *d;
  }
  AdminStores st = open_stores(server_config(a), err);
  auto nk = st.keys->rotate(id, grace, wall_ms());
  if (!nk) throw NotFound("no active key with id " + id);
  out << nk->key << std::endl;
  // The old key's end as stored: the grace deadline, or its own earlier expiry.
  auto old = st.keys->find(id);
  err << "rotated " << id << " -> " << nk->record.id << "; the old key stops at "
      << time_or(old ? old->expires_at : std::nullopt, "?") << '\n';
  return 0;
}

// A job as the CLI shows it: the API's job object, with its owner.
json admin_job_json(const Job& j) {
  json o = job_to_json(j);
  o["owner"] = j.owner;
  return o;
}

int jobs_list(const Args& a, std::ostream& out, std::ostream& err) {
  no_positional(a, "jobs list");
  int64_t limit = 100;
  if (auto l = a.get("limit")) {
    char* end = nullptr;
    limit = std::strtoll(l->c_str(), &end, 10);
    if (l->empty() || *end || limit < 1 || limit > 1'000'000)
      throw UsageError("--limit: expected a whole number from 1 to 1000000");
  }
  auto status = a.get("status");
  if (status && !parse_job_status(*status))
    throw UsageError("--status: expected pending, running, completed, failed or canceled");
  AdminStores st = open_stores(server_config(a), err);
  // Pages of at most 1000, so a large --limit never holds every job at once.
  JobQuery q;
  if (status) q.status = parse_job_status(*status);
  for (int64_t left = limit; left > 0;) {
    q.limit = static_cast<int>(std::min<int64_t>(left, 1000));
    auto page = st.jobs->list(q);
    for (auto& j : page.jobs) out << admin_job_json(j).dump() << '\n';
    left -= static_cast<int64_t>(page.jobs.size());
    if (!page.next_before) break;
    q.before = page.next_before;
  }
  return 0;
}

int jobs_show(const Args& a, std::ostream& out, std::ostream& err) {
  std::string uuid = one_id(a, "jobs show");
  AdminStores st = open_stores(server_config(a), err);
  auto job = st.jobs->get_any(uuid);
  if (!job) throw NotFound("no job " + uuid);
  out << admin_job_json(*job).dump(2) << '\n';
  return 0;
}

int jobs_purge(const Args& a, std::ostream&, std::ostream& err) {
  no_positional(a, "jobs purge");
  auto d = a.get("older-than");
  auto ms = d ? parse_duration_ms(*d) : std::nullopt;
  if (!ms || *ms > kMaxDurationMs)
    throw UsageError("jobs purge needs --older-than DURATION (e.g. 7d; at most 36500d)");
  AdminStores st = open_stores(server_config(a), err);
  int64_t total = 0;
  // Small transactions, so a running server's writer is never held up long.
  for (;;) {
    size_t n = st.jobs->purge_finished(wall_ms() - *ms, 500);
    total += static_cast<int64_t>(n);
    if (n < 500) break;
  }
  err << "purged " << total << " finished jobs\n";
  return 0;
}

const std::vector<Command>& key_commands() {
  static const std::vector<Command> cmds = {
      {"create",
       "keys create --name NAME [--owner O] [--tier T] [--scopes S] [--expires-in D]",
       "  Creates a key and prints it, and nothing else, on stdout (shown once; stored as SHA-256).\n"
       "  --owner O        jobs belong to the owner (default: the name)\n"
       "  --tier T         a tier the server defines (default free): one it started with\n"
       "                   on this database, or one in --config / MLGATE_TIER\n"
       "  --allow-unknown-tier  create it even so (the server limits it as free)\n"
       "  --scopes S       comma-separated: predict, read, metrics (default predict,read)\n"
       "  --expires-in D   e.g. 90s, 24h, 30d (default: never)\n"
       "  --init           create the data folder and database if there is none\n",
       {"name", "owner", "tier", "scopes", "expires-in"},
       {"allow-unknown-tier", "init"},
       keys_create},
      {"list", "keys list [--json]",
       "  Every key (never the key itself); a tier the configuration lacks is marked *.\n",
       {},
       {"json"},
       keys_list},
      {"show", "keys show ID [--json]", "  One key's record.\n", {}, {"json"}, keys_show},
      {"revoke", "keys revoke ID",
       "  Ends the key; the running server refuses it within a second.\n", {}, {}, keys_revoke},
      {"rotate", "keys rotate ID [--grace D]",
       "  A new key with the old one's owner, tier, scopes and expiry, printed on stdout;\n"
       "  the old key ends after the grace (default: at once).\n",
       {"grace"},
       {},
       keys_rotate},
  };
  return cmds;
}

const std::vector<Command>& job_commands() {
  static const std::vector<Command> cmds = {
      {"list", "jobs list [--status S] [--limit N]",
       "  Every owner's jobs, newest first, one JSON line each (default limit 100).\n",
       {"status", "limit"},
       {},
       jobs_list},
      {"show", "jobs show UUID", "  One job, with its owner.\n", {}, {}, jobs_show},
      {"purge", "jobs purge --older-than D",
       "  Deletes jobs that finished more than D ago (e.g. 7d).\n",
       {"older-than"},
       {},
       jobs_purge},
  };
  return cmds;
}

std::string group_usage(const char* group, const std::vector<Command>& cmds) {
  std::string s = std::string("usage: mlgate ") + group + " <command> [options]\n";
  for (auto& c : cmds) s += std::string("  mlgate ") + c.usage + "\n";
  s += std::string("  mlgate ") + group + " <command> --help: that command's options\n" + kWhere;
  return s;
}

bool wants_help(const std::vector<std::string>& args, size_t from) {
  for (size_t i = from; i < args.size(); ++i)
    if (args[i] == "--help" || args[i] == "-h") return true;
  return false;
}

// `mlgate GROUP CMD ARGS...`: help (exit 0, stdout), or the command.
int run_group(const char* group, const std::vector<Command>& cmds,
              const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string usage = group_usage(group, cmds);
  if (args.size() < 2)
    throw UsageError(std::string("mlgate ") + group + " needs a command; see mlgate " + group + " --help");
  if (args[1] == "--help" || args[1] == "-h" || args[1] == "help") {
    out << usage;
    return 0;
  }
  for (auto& c : cmds) {
    if (args[1] != c.name) continue;
    if (wants_help(args, 2)) {
      out << "usage: mlgate " << c.usage << '\n' << c.help << kWhere;
      return 0;
    }
    std::vector<const char*> valued = c.valued;
    valued.insert(valued.end(), {"data-dir", "database", "config"});
    Args a(args, 2, valued, c.boolean);
    return c.run(a, out, err);
  }
  throw UsageError(std::string("unknown ") + group + " command: " + args[1] + "; see mlgate " + group +
                   " --help");
}

template <class F>
int guarded(F&& f, std::ostream& err) {
  try {
    return f();
  } catch (const UsageError& e) {
    err << "mlgate: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    err << "mlgate: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace

int run_keys(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  return guarded([&] { return run_group("keys", key_commands(), args, out, err); }, err);
}

int run_jobs(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  return guarded([&] { return run_group("jobs", job_commands(), args, out, err); }, err);
}

}  // namespace mlgate
