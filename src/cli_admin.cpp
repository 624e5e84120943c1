#include "cli_admin.hpp"

#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <map>
#include <optional>
#include <ostream>

#include "clock.hpp"
#include "config.hpp"
#include "data_owner.hpp"
#include "job_store.hpp"
#include "key_store.hpp"
#include "schema.hpp"

namespace mlgate {
namespace {

using json = nlohmann::json;

// Longest --expires-in and --grace: 100 years, so that now + the duration
// is a sane time (a larger value, up to what parse_duration_ms allows, would
// overflow the millisecond clock and end the key at once).
constexpr int64_t kMaxDurationMs = 36'500LL * 86'400'000;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "--name X", "--name=X", flags without values, and positional words.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;

  Args(const std::vector<std::string>& a, size_t from,
       std::initializer_list<const char*> valued, std::initializer_list<const char*> boolean) {
    auto is = [](std::initializer_list<const char*> l, const std::string& n) {
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

std::string data_dir(const Args& a) {
  if (auto d = a.get("data-dir")) return *d;
  if (const char* e = std::getenv("MLGATE_DATA_DIR"); e && *e) return e;
  return default_data_dir([](const std::string& n) -> std::optional<std::string> {
    const char* v = std::getenv(n.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
}

Db open_db(const Args& a, std::ostream& err) {
  std::string dir = data_dir(a);
  // As root on the service's directory: work as its owner (data_owner.hpp).
  if (auto owner = act_as_data_owner(dir); !owner.empty())
    err << "mlgate: running as " << owner << ", the owner of " << dir << '\n';
  std::filesystem::create_directories(dir);
  Db db = Db::open((std::filesystem::path(dir) / "mlgate.db").string());
  migrate(db);
  return db;
}

std::string time_or(const std::optional<int64_t>& t, const char* none) {
  return t ? rfc3339(*t) : none;
}

json key_json(const KeyRecord& k) {
  auto t = [](const std::optional<int64_t>& v) { return v ? json(rfc3339(*v)) : json(nullptr); };
  return {{"id", k.id},           {"name", k.name},
          {"owner", k.owner},     {"tier", k.tier},
          {"scopes", format_scopes(k.scopes)},
          {"created_at", rfc3339(k.created_at)},
          {"expires_at", t(k.expires_at)},
          {"revoked_at", t(k.revoked_at)},
          {"last_used_at", t(k.last_used_at)},
          {"replaced_by", k.replaced_by ? json(*k.replaced_by) : json(nullptr)}};
}

void print_key_table(const std::vector<KeyRecord>& keys, std::ostream& out) {
  out << std::left << std::setw(15) << "ID" << std::setw(16) << "NAME" << std::setw(16) << "OWNER"
      << std::setw(10) << "TIER" << std::setw(22) << "SCOPES" << std::setw(25) << "EXPIRES"
      << std::setw(25) << "REVOKED" << "LAST USED\n";
  for (auto& k : keys)
    out << std::setw(15) << k.id << std::setw(16) << k.name << std::setw(16) << k.owner
        << std::setw(10) << k.tier << std::setw(22) << format_scopes(k.scopes) << std::setw(25)
        << time_or(k.expires_at, "never") << std::setw(25) << time_or(k.revoked_at, "-")
        << time_or(k.last_used_at, "never") << '\n';
}

int keys_create(const Args& a, std::ostream& out, std::ostream& err) {
  KeyCreateOptions o;
  auto name = a.get("name");
  if (!name || name->empty()) throw UsageError("keys create needs --name NAME");
  o.name = *name;
  o.owner = a.get("owner").value_or("");
  o.tier = a.get("tier").value_or("free");
  if (auto s = a.get("scopes")) {
    auto bits = parse_scopes(*s);
    if (!bits) throw UsageError("--scopes: expected a comma-separated list of predict,read,admin,metrics");
    o.scopes = *bits;
  }
  if (auto e = a.get("expires-in")) {
    o.expires_in_ms = parse_duration_ms(*e);
    if (!o.expires_in_ms || *o.expires_in_ms == 0 || *o.expires_in_ms > kMaxDurationMs)
      throw UsageError("--expires-in: expected a duration such as 30d (at most 36500d)");
  }
  Db db = open_db(a, err);
  NewKey nk = create_key(db, o, wall_ms());
  out << nk.key << std::endl;
  return 0;
}

int run_keys_impl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() < 2) throw UsageError("usage: mlgate keys create|list|show|revoke|rotate ...");
  const std::string& cmd = args[1];
  Args a(args, 2, {"data-dir", "name", "owner", "tier", "scopes", "expires-in", "grace"}, {"json"});
  auto need_id = [&]() -> std::string {
    if (a.positional.size() != 1) throw UsageError("keys " + cmd + " needs one key ID");
    return a.positional[0];
  };
  auto no_args = [&] {
    if (!a.positional.empty())
      throw UsageError("keys " + cmd + " takes no argument (got '" + a.positional[0] + "')");
  };
  if (cmd == "create") {
    no_args();
    return keys_create(a, out, err);
  }
  if (cmd == "list") {
    no_args();
    Db db = open_db(a, err);
    auto keys = list_keys(db);
    if (a.get("json")) {
      json arr = json::array();
      for (auto& k : keys) arr.push_back(key_json(k));
      out << arr.dump(2) << '\n';
    } else {
      print_key_table(keys, out);
    }
    return 0;
  }
  if (cmd == "show") {
    std::string id = need_id();
    Db db = open_db(a, err);
    auto k = find_key(db, id);
    if (!k) {
      err << "mlgate: no key with id " << id << '\n';
      return 1;
    }
    // Named, not a temporary: a range-for over key_json(*k).items() would
    // iterate a destroyed object (it crashed `keys show ID`).
    json j = key_json(*k);
    if (a.get("json")) {
      out << j.dump(2) << '\n';
    } else {
      for (auto& [f, v] : j.items())
        out << f << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << '\n';
    }
    return 0;
  }
  if (cmd == "revoke") {
    std::string id = need_id();
    Db db = open_db(a, err);
    if (!revoke_key(db, id, wall_ms())) {
      err << "mlgate: no key with id " << id << '\n';
      return 1;
    }
    err << "revoked " << id << '\n';
    return 0;
  }
  if (cmd == "rotate") {
    std::string id = need_id();
    int64_t grace = 0;
    if (auto g = a.get("grace")) {
      auto d = parse_duration_ms(*g);
      if (!d || *d > kMaxDurationMs)
        throw UsageError("--grace: expected a duration such as 24h (at most 36500d)");
      grace = *d;
    }
    Db db = open_db(a, err);
    auto nk = rotate_key(db, id, grace, wall_ms());
    if (!nk) {
      err << "mlgate: no active key with id " << id << '\n';
      return 1;
    }
    out << nk->key << std::endl;
    // The old key's end as stored: the grace deadline, or its own earlier expiry.
    auto old = find_key(db, id);
    err << "rotated " << id << " -> " << nk->record.id << "; the old key stops at "
        << time_or(old ? old->expires_at : std::nullopt, "?") << '\n';
    return 0;
  }
  throw UsageError("unknown keys command: " + cmd);
}

int run_jobs_impl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() < 2) throw UsageError("usage: mlgate jobs list|show|purge ...");
  const std::string& cmd = args[1];
  Args a(args, 2, {"data-dir", "older-than", "status", "limit"}, {"json"});
  Db db = open_db(a, err);
  auto row_json = [](const Stmt& st) {
    Job j;
    j.uuid = st.text(0);
    j.status = st.text(1);
    j.owner = st.text(2);
    j.attempts = static_cast<int>(st.i64(3));
    j.result_label = st.opt_text(4);
    if (!st.is_null(5)) j.result_score = st.f64(5);
    j.result = st.opt_text(6);
    j.error = st.opt_text(7);
    j.created_at = st.i64(8);
    j.started_at = st.opt_i64(9);
    j.finished_at = st.opt_i64(10);
    json o = job_to_json(j);
    o["owner"] = j.owner;
    return o;
  };
  const char* cols =
      "SELECT uuid, status, owner, attempts, result_label, result_score, result, error, "
      "created_at, started_at, finished_at FROM jobs ";
  if (cmd == "list") {
    int64_t limit = 100;
    if (auto l = a.get("limit")) limit = std::atoll(l->c_str());
    Stmt st = db.prepare(std::string(cols) + "WHERE (?1 IS NULL OR status = ?1) ORDER BY seq DESC LIMIT ?2");
    st.bind(1, a.get("status")).bind(2, limit);
    while (st.step()) out << row_json(st).dump() << '\n';
    return 0;
  }
  if (cmd == "show") {
    if (a.positional.size() != 1) throw UsageError("jobs show needs one job UUID");
    Stmt st = db.prepare(std::string(cols) + "WHERE uuid = ?");
    st.bind(1, a.positional[0]);
    if (!st.step()) {
      err << "mlgate: no job " << a.positional[0] << '\n';
      return 1;
    }
    out << row_json(st).dump(2) << '\n';
    return 0;
  }
  if (cmd == "purge") {
    auto d = a.get("older-than");
    auto ms = d ? parse_duration_ms(*d) : std::nullopt;
    if (!ms) throw UsageError("jobs purge needs --older-than DURATION (e.g. 7d)");
    int64_t total = 0;
    Stmt del = db.prepare(
        "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE finished_at < ? LIMIT 500)");
    // Small transactions, so a running server's writer is never held up long.
    for (;;) {
      del.bind(1, wall_ms() - *ms);
      del.run();
      int64_t n = db.changes();
      total += n;
      if (n < 500) break;
    }
    err << "purged " << total << " finished jobs\n";
    return 0;
  }
  throw UsageError("unknown jobs command: " + cmd);
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
  return guarded([&] { return run_keys_impl(args, out, err); }, err);
}

int run_jobs(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  return guarded([&] { return run_jobs_impl(args, out, err); }, err);
}

}  // namespace mlgate
