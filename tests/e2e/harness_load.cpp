// harness_load.cpp: see harness_load.hpp.
#include "harness_load.hpp"

#include <random>
#include <sstream>

#include "api_key.hpp"
#include "db.hpp"

namespace e2e {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kLoadServerArgs = {
    "--tier", "fast=100000/s,burst=100000", "--limit-ip", "1000000/s,burst=100000",
    "--limit-poll", "100000/s,burst=100000", "--trusted-proxy", "127.0.0.1/32"};

namespace {

// Requests a client would send by mistake or on purpose; each is answered
// with a 4xx (or the connection is closed), never a 5xx.
const std::vector<std::string> kHostileHeads = [] {
  std::string many_headers = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 150; ++i) many_headers += "X-H" + std::to_string(i) + ": v\r\n";
  return std::vector<std::string>{
      many_headers + "\r\n",
      "POST /predict HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "POST /predict HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
      "POST /predict HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n\r\nGET /jobs HTTP/1.1\r\nHost: a\r\n\r\n",
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x01z\r\n\r\n",
      "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost:",
      "GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-,0-,0-,0-\r\n\r\n",
      "GET /jobs HTTP/1.1\r\nHost: a\r\nREMOTE_ADDR: 10.9.9.9\r\nX-API-Key: mlg_x\r\n\r\n",
      "POST /predict HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
      "Content-Length: 20\r\nX-API-Key: mlg_nope\r\n\r\n",
      "POST /predict HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
      "DELETE /jobs/../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /jobs?limit=99999999999999999999&cursor=%00%ff HTTP/1.1\r\nHost: a\r\nX-API-Key: "
      "mlg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n",
  };
}();

int status_of(const httplib::Result& r) { return r ? r->status : 0; }

}  // namespace

MixedLoad::MixedLoad(const ServerProc& server, std::string key, LoadOptions opt)
    : server_(server), key_(std::move(key)) {
  for (int i = 0; i < opt.posters; ++i)
    threads_.emplace_back([this, i, p = opt.post_pause] { post_loop(i, p); });
  if (opt.pollers) threads_.emplace_back([this] { poll_loop(); });
  if (opt.canceller) threads_.emplace_back([this] { cancel_loop(); });
  if (opt.bad_keys) threads_.emplace_back([this] { bad_key_loop(); });
  if (opt.hostile) threads_.emplace_back([this] { hostile_loop(); });
  if (opt.key_changes) threads_.emplace_back([this, p = opt.key_pause] { key_loop(p); });
}

void MixedLoad::stop() {
  stop_ = true;
  threads_.clear();
}

std::vector<std::string> MixedLoad::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}
std::set<std::string> MixedLoad::canceled() const {
  std::lock_guard lock(mu_);
  return canceled_;
}
std::vector<KeyChange> MixedLoad::key_changes() const {
  std::lock_guard lock(mu_);
  return keys_;
}
std::map<int, uint64_t> MixedLoad::statuses() const {
  std::lock_guard lock(mu_);
  return statuses_;
}

void MixedLoad::count(int status) {
  ++requests_;
  std::lock_guard lock(mu_);
  ++statuses_[status];
}

httplib::Client MixedLoad::client() const {
  httplib::Client c("127.0.0.1", server_.port());
  c.set_tcp_nodelay(true);
  c.set_keep_alive(true);
  c.set_connection_timeout(1);
  c.set_read_timeout(10);
  return c;
}

std::optional<std::string> MixedLoad::some_accepted(bool recent) {
  thread_local std::mt19937 rng(std::random_device{}());
  std::lock_guard lock(mu_);
  if (accepted_.empty()) return std::nullopt;
  size_t n = accepted_.size();
  size_t from = recent && n > 20 ? n - 20 : 0;
  return accepted_[std::uniform_int_distribution<size_t>(from, n - 1)(rng)];
}

// A pause after a failed connection: the server is down (killed, starting).
static void backoff() { std::this_thread::sleep_for(5ms); }

void MixedLoad::post_loop(int t, std::chrono::milliseconds pause) {
  int port = -1;
  std::optional<httplib::Client> c;
  for (int n = 0; !stop_; ++n) {
    if (port != server_.port()) c.emplace(client()), port = server_.port();
    auto r = post_predict(*c, key_,
                          "Client " + std::to_string(t) + " found the service good, visit " +
                              std::to_string(n));
    count(status_of(r));
    if (r && r->status == 202) {
      std::string id = json::parse(r->body)["job_uuid"];
      std::lock_guard lock(mu_);
      accepted_.push_back(id);
    } else if (!r) {
      backoff();
    }
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
}

void MixedLoad::poll_loop() {
  int port = -1;
  std::optional<httplib::Client> c;
  const httplib::Headers h = {{"X-API-Key", key_}};
  while (!stop_) {
    if (port != server_.port()) c.emplace(client()), port = server_.port();
    if (auto id = some_accepted(false)) {
      auto r = c->Get("/jobs/" + *id, h);
      count(status_of(r));
      if (!r) backoff();
      else if (r->status == 404) ++accepted_404_;
    }
    // A few pages of the list, following next_cursor.
    std::string path = "/jobs?limit=20";
    for (int page = 0; page < 3 && !stop_; ++page) {
      auto r = c->Get(path, h);
      count(status_of(r));
      if (!r || r->status != 200) break;
      auto next = json::parse(r->body)["next_cursor"];
      if (!next.is_string()) break;
      path = "/jobs?limit=20&cursor=" + next.get<std::string>();
    }
    std::this_thread::sleep_for(2ms);
  }
}

void MixedLoad::cancel_loop() {
  int port = -1;
  std::optional<httplib::Client> c;
  while (!stop_) {
    std::this_thread::sleep_for(50ms);
    if (port != server_.port()) c.emplace(client()), port = server_.port();
    auto id = some_accepted(true);
    if (!id) continue;
    auto r = c->Delete("/jobs/" + *id, {{"X-API-Key", key_}});
    count(status_of(r));
    if (r && r->status == 404) ++accepted_404_;
    if (r && r->status == 200) {
      std::lock_guard lock(mu_);
      canceled_.insert(*id);
    }
  }
}

void MixedLoad::bad_key_loop() {
  int port = -1;
  std::optional<httplib::Client> c;
  for (int n = 0; !stop_; ++n) {
    if (port != server_.port()) c.emplace(client()), port = server_.port();
    // A well-formed key nobody created (the server looks it up), or junk.
    const std::string key = n % 2 ? mlgate::generate_api_key() : "mlg_guess" + std::to_string(n);
    const httplib::Headers h = {{"X-Forwarded-For", "198.51.100." + std::to_string(n % 200)}};
    auto r = post_predict(*c, key, "A text from someone without a key", h);
    count(status_of(r));
    if (!r) backoff();
    std::this_thread::sleep_for(5ms);
  }
}

void MixedLoad::hostile_loop() {
  for (size_t n = 0; !stop_; ++n) {
    std::string raw;
    try {
      raw = raw_exchange(server_.port(), kHostileHeads[n % kHostileHeads.size()], 300ms);
    } catch (const std::exception&) {
      backoff();  // not listening right now
      continue;
    }
    // Every status line in what came back (a smuggled second request
    // would show up as a second one).
    for (size_t at = raw.find("HTTP/1."); at != std::string::npos; at = raw.find("HTTP/1.", at + 1))
      if (at + 12 <= raw.size()) count(std::atoi(raw.c_str() + at + 9));
    std::this_thread::sleep_for(20ms);
  }
}

void MixedLoad::key_loop(std::chrono::milliseconds pause) {
  static std::atomic<int> serial{0};
  const std::string dir = server_.dir();
  auto id_of = [&](const std::string& name) -> std::string {
    CliResult r = run_cli({"keys", "list", "--json", "--data-dir", dir});
    if (r.status != 0) return "";
    for (auto& k : json::parse(r.out))
      if (k["name"] == name) return k["id"];
    return "";
  };
  auto line = [](std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  };
  for (bool first = true; !stop_; first = false) {
    if (!first) std::this_thread::sleep_for(pause);
    const int n = serial++;
    KeyChange k;
    k.name = "churn-" + std::to_string(getpid()) + "-" + std::to_string(n);
    CliResult made = run_cli({"keys", "create", "--name", k.name, "--tier", "fast", "--data-dir", dir});
    if (made.status != 0) continue;
    k.key = line(made.out);
    k.id = id_of(k.name);
    {
      std::lock_guard lock(mu_);
      keys_.push_back(k);
    }
    if (k.id.empty() || n % 3 == 0) continue;  // a third of the keys stay
    if (n % 3 == 1) {
      if (run_cli({"keys", "revoke", k.id, "--data-dir", dir}).status == 0) {
        std::lock_guard lock(mu_);
        keys_.back().revoked = true;  // only this thread appends
      }
    } else {
      CliResult rot = run_cli({"keys", "rotate", k.id, "--data-dir", dir});
      if (rot.status == 0) {
        std::lock_guard lock(mu_);
        keys_.back().revoked = true;
        keys_.push_back({k.name + " (rotated)", "", line(rot.out), false});
      }
    }
  }
}

// ------------------------------------------------------------ the check

namespace {

struct Row {
  std::string status;
  int64_t attempts = 0;
  std::optional<int64_t> started_at, finished_at;
  bool final() const { return status != "pending" && status != "running"; }
};

std::map<std::string, Row> read_rows(const std::string& dir) {
  mlgate::Db db = mlgate::Db::open(dir + "/mlgate.db", true);
  mlgate::Stmt st = db.prepare("SELECT uuid, status, attempts, started_at, finished_at FROM jobs");
  std::map<std::string, Row> out;
  while (st.step()) out[st.text(0)] = {st.text(1), st.i64(2), st.opt_i64(3), st.opt_i64(4)};
  return out;
}

}  // namespace

std::string KillReport::summary() const {
  std::ostringstream s;
  s << accepted << " accepted; missing after the kill " << missing_after_kill << ", not final "
    << not_final << ", changed after final " << changed_after_final << ", not claimed once "
    << not_claimed_once << ", cancels lost " << cancels_lost << ", keys lost " << keys_lost
    << ", revocations lost " << revocations_lost << ", accepted but 404 " << accepted_not_found
    << ", 5xx other than 503 " << http_5xx_not_503;
  return s.str();
}

KillReport check_after_kill(ServerProc& server, const MixedLoad& load, Ledger& ledger,
                            std::chrono::seconds settle) {
  KillReport rep;
  for (auto& id : load.accepted()) ledger.accepted.push_back(id);
  for (auto& id : load.canceled()) ledger.canceled.insert(id);
  for (auto& k : load.key_changes()) ledger.keys.push_back(k);
  for (auto& [status, n] : load.statuses())
    if (status >= 500 && status != 503) rep.http_5xx_not_503 += n;
  rep.accepted = ledger.accepted.size();
  rep.accepted_not_found = load.accepted_not_found();

  const auto at_kill = read_rows(server.dir());
  for (auto& id : ledger.accepted) rep.missing_after_kill += at_kill.count(id) == 0;

  server.start();
  auto deadline = Clock::now() + settle;
  std::map<std::string, Row> after;
  for (;;) {
    after = read_rows(server.dir());
    size_t open = 0;
    for (auto& id : ledger.accepted) {
      auto it = after.find(id);
      open += it != after.end() && !it->second.final();
    }
    rep.not_final = open;
    if (open == 0 || Clock::now() > deadline) break;
    std::this_thread::sleep_for(50ms);
  }
  for (auto& [id, before] : at_kill) {
    auto it = after.find(id);
    if (it == after.end()) continue;  // counted as missing if it was accepted
    const Row& now = it->second;
    if (before.final()) {
      rep.changed_after_final += now.status != before.status || now.attempts != before.attempts ||
                                 now.started_at != before.started_at ||
                                 now.finished_at != before.finished_at;
    } else {
      rep.not_claimed_once += now.status != "completed" || now.attempts != before.attempts + 1;
    }
  }
  for (auto& id : ledger.canceled) {
    auto it = after.find(id);
    rep.cancels_lost += it == after.end() || it->second.status != "canceled";
  }

  // Keys, as a client sees them, each check from an address of its own so
  // the refusals do not spend one address's failed-key budget.
  auto c = server.client();
  int n = 0;
  for (auto& k : ledger.keys) {
    const httplib::Headers h = {{"X-API-Key", k.key},
                                {"X-Forwarded-For", "203.0.113." + std::to_string(n++ % 250)}};
    auto r = c.Get("/jobs?limit=1", h);
    const int status = status_of(r);
    if (k.revoked) rep.revocations_lost += status != 401;
    else rep.keys_lost += status != 200;
  }
  return rep;
}

}  // namespace e2e
