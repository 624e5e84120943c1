// API keys against the real binary (issue 4, DESIGN.md "API keys"): owners,
// scopes, expiry, rotation, live revocation, the failed-key budget, the
// command line, last_used_at, and that no key is ever written to a log.
//
// Every test runs its server through KeyedServer, which remembers each key the
// test made or presented and, when the test ends, scans everything the server
// and the CLI wrote to standard error for any of them.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>

#include "api_key.hpp"
#include "harness.hpp"

using namespace e2e;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// "2026-11-25T21:42:56.123Z" -> Unix ms.
int64_t parse_rfc3339(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  REQUIRE_MESSAGE(std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7,
                  s);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

const std::regex kKeyShape("mlg_[0-9A-Za-z]{38}");

// A server plus the secrets of the test that uses it. The destructor checks
// that neither the server's log nor any CLI stderr holds one of them.
struct KeyedServer {
  ServerProc s;
  std::vector<std::string> secrets;
  std::string cli_err;

  explicit KeyedServer(std::vector<std::string> args = {}) : s(std::move(args)) {}

  ~KeyedServer() {
    std::string text = s.log() + cli_err;
    for (auto& k : secrets) {
      // The random body alone, so a log that dropped or mangled the prefix
      // is caught too.
      std::string body = k.size() > 36 ? k.substr(4, 32) : k;
      CHECK_MESSAGE(text.find(body) == std::string::npos, "a key reached a log line");
    }
    static const std::regex kAnyKey("mlg_[0-9A-Za-z]{16}");
    CHECK_MESSAGE(!std::regex_search(text, kAnyKey), "something shaped like a key was logged");
  }

  // `mlgate ARGS...` on this server's data; --data-dir goes right after the
  // subcommand, so a flag missing its value at the end stays missing.
  CliResult cli(std::vector<std::string> args) {
    auto at = args.begin() + std::min<size_t>(args.size(), 2);
    args.insert(at, {"--data-dir", s.dir()});
    CliResult r = run_cli(args);
    cli_err += r.err;
    return r;
  }

  // `keys create --name NAME EXTRA...`; the key, remembered as a secret.
  std::string create(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"keys", "create", "--name", name};
    a.insert(a.end(), extra.begin(), extra.end());
    CliResult r = cli(a);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    std::string key = r.out;
    REQUIRE(!key.empty());
    REQUIRE(key.back() == '\n');
    key.pop_back();
    REQUIRE(std::regex_match(key, kKeyShape));
    secrets.push_back(key);
    return key;
  }

  json list_json() {
    CliResult r = cli({"keys", "list", "--json"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return json::parse(r.out);
  }

  // The id of the key named `name`.
  std::string id_of(const std::string& name) {
    for (auto& k : list_json())
      if (k["name"] == name) return k["id"];
    FAIL("no key named " << name);
    return "";
  }

  // `keys show ID --json`.
  json show(const std::string& id) {
    CliResult r = cli({"keys", "show", id, "--json"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return json::parse(r.out);
  }
};

int get_status(httplib::Client& c, const std::string& path, const std::string& key) {
  auto r = c.Get(path, {{"X-API-Key", key}});
  REQUIRE(r);
  return r->status;
}

// One TCP connection kept open across requests, so a test can tell "the
// same connection" apart from what a client library might do on its own.
class KeepAlive {
 public:
  explicit KeepAlive(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect failed");
  }
  ~KeepAlive() { close(fd_); }

  // GET `path` with the key on this connection; the status, or -1 if the
  // server closed the connection instead of answering.
  int get(const std::string& path, const std::string& key) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + key +
                      "\r\nConnection: keep-alive\r\n\r\n";
    if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return -1;
    // Headers, then exactly Content-Length bytes of body.
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return -1;
    std::string head = buf_.substr(0, end);
    size_t len = 0;
    std::smatch m;
    static const std::regex kLen("\r\ncontent-length: *(\\d+)", std::regex::icase);
    if (std::regex_search(head, m, kLen)) len = std::stoul(m[1]);
    while (buf_.size() < end + 4 + len)
      if (!fill()) return -1;
    buf_.erase(0, end + 4 + len);
    return std::stoi(head.substr(9, 3));
  }

 private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return false;
    char tmp[4096];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

// Polls `ok()` every `step` until it holds or `limit` passes.
template <class F>
bool eventually(F ok, std::chrono::milliseconds limit, std::chrono::milliseconds step = 100ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (ok()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

std::set<std::string> job_ids(httplib::Client& c, const std::string& key) {
  auto r = c.Get("/jobs", {{"X-API-Key", key}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  std::set<std::string> ids;
  json body = json::parse(r->body);  // named: a temporary's ["jobs"] would dangle
  for (auto& j : body["jobs"]) ids.insert(j["job_uuid"].get<std::string>());
  return ids;
}

std::string submit(httplib::Client& c, const std::string& key) {
  auto r = post_predict(c, key);
  REQUIRE(r);
  REQUIRE(r->status == 202);
  return json::parse(r->body)["job_uuid"];
}

}  // namespace

// ----------------------------------------------------------------- owners

TEST_CASE("keys of one owner see the same jobs; another owner's jobs are 404 on every route") {
  KeyedServer k;
  std::string acme1 = k.create("acme-box-1", {"--owner", "acme"});
  std::string acme2 = k.create("acme-box-2", {"--owner", "acme"});
  std::string bob = k.create("bob");
  auto c = k.s.client();
  std::string acme_job = submit(c, acme1);
  std::string bob_job = submit(c, bob);

  // The other key of the same owner sees acme's job, on GET and in the list.
  CHECK(get_status(c, "/jobs/" + acme_job, acme2) == 200);
  CHECK(job_ids(c, acme2) == std::set<std::string>{acme_job});
  CHECK(job_ids(c, acme1) == std::set<std::string>{acme_job});

  // Another owner sees neither, and cannot cancel: a 404, never a 403.
  CHECK(get_status(c, "/jobs/" + acme_job, bob) == 404);
  CHECK(get_status(c, "/jobs/" + bob_job, acme1) == 404);
  CHECK(job_ids(c, bob) == std::set<std::string>{bob_job});
  auto r = c.Delete("/jobs/" + acme_job, {{"X-API-Key", bob}});
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(json::parse(r->body) == json{{"detail", "Job not found"}});
  r = c.Delete("/jobs/" + bob_job, {{"X-API-Key", acme2}});
  REQUIRE(r);
  CHECK(r->status == 404);
  // The refused cancels changed nothing.
  CHECK(wait_finished(c, acme1, acme_job)["status"] == "completed");
  CHECK(wait_finished(c, bob, bob_job)["status"] == "completed");

  // A cancel by the owner's other key reaches the job (409: already done).
  r = c.Delete("/jobs/" + acme_job, {{"X-API-Key", acme2}});
  REQUIRE(r);
  CHECK(r->status == 409);
}

// --------------------------------------------------------------- rotation

TEST_CASE("keys rotate prints the new key, and nothing else, on stdout") {
  KeyedServer k;
  std::string old = k.create("alice", {"--owner", "acme", "--tier", "premium",
                                       "--scopes", "read,metrics"});
  std::string id = k.id_of("alice");
  CliResult r = k.cli({"keys", "rotate", id, "--grace", "1h"});
  REQUIRE(r.status == 0);
  REQUIRE(!r.out.empty());
  std::string fresh = r.out.substr(0, r.out.size() - 1);
  k.secrets.push_back(fresh);
  CHECK(r.out.back() == '\n');
  CHECK(std::regex_match(fresh, kKeyShape));
  CHECK(fresh != old);
  CHECK(r.err.find(id) != std::string::npos);  // the message goes to stderr, by id
  // The new record keeps the owner, tier and scopes; the old one points to it.
  json keys = k.list_json();
  REQUIRE(keys.size() == 2);
  json o = k.show(id);
  json n = k.show(o["replaced_by"]);
  CHECK(n["owner"] == "acme");
  CHECK(n["tier"] == "premium");
  CHECK(n["scopes"] == "read,metrics");
  CHECK(o["expires_at"].is_string());
}

TEST_CASE("a rotated key works during its grace period and is refused after it") {
  KeyedServer k;
  std::string old = k.create("alice");
  auto c = k.s.client();
  std::string job = submit(c, old);
  std::string id = k.id_of("alice");

  int64_t before = now_ms();
  CliResult r = k.cli({"keys", "rotate", id, "--grace", "3s"});
  int64_t after = now_ms();
  REQUIRE(r.status == 0);
  std::string fresh = r.out.substr(0, r.out.size() - 1);
  k.secrets.push_back(fresh);

  // The new key works at once and sees the old key's job (same owner).
  CHECK(get_status(c, "/jobs/" + job, fresh) == 200);
  // The old key works until the deadline (rotation time + 3 s, and the
  // rotation happened between `before` and `after`), then is refused.
  int64_t first_refusal_sent = -1, first_refusal_seen = -1;
  bool ended = eventually(
      [&] {
        int64_t sent = now_ms();
        int status = get_status(c, "/jobs/" + job, old);
        int64_t seen = now_ms();
        if (status == 200) {
          CHECK_MESSAGE(sent < after + 3000, "the old key worked after its grace period");
          return false;
        }
        CHECK(status == 401);
        first_refusal_sent = sent;
        first_refusal_seen = seen;
        return true;
      },
      6s, 200ms);
  REQUIRE(ended);
  CHECK(first_refusal_seen >= before + 3000);  // not before the grace ended
  CHECK(first_refusal_sent <= after + 3000 + 1000);  // within a second after it
  CHECK(get_status(c, "/jobs/" + job, fresh) == 200);
}

// ------------------------------------------------ revocation and expiry

TEST_CASE("a revoked key is refused within a second on an already open keep-alive connection") {
  KeyedServer k;
  std::string key = k.create("alice");
  std::string other = k.create("bob");
  KeepAlive conn(k.s.port());
  REQUIRE(conn.get("/jobs", key) == 200);
  REQUIRE(conn.get("/jobs", other) == 200);

  CliResult r = k.cli({"keys", "revoke", k.id_of("alice")});
  REQUIRE(r.status == 0);
  auto revoked_at = std::chrono::steady_clock::now();
  int status = 0;
  bool refused = eventually([&] { return (status = conn.get("/jobs", key)) != 200; }, 1s);
  CHECK(refused);
  CHECK(status == 401);
  CHECK(std::chrono::steady_clock::now() - revoked_at < 1500ms);
  // Same connection, still open: another key on it is unaffected.
  CHECK(conn.get("/jobs", other) == 200);
  // And revoked stays revoked: a second revoke succeeds and changes nothing.
  json before = k.show(k.id_of("alice"));
  CHECK(k.cli({"keys", "revoke", k.id_of("alice")}).status == 0);
  CHECK(k.show(k.id_of("alice"))["revoked_at"] == before["revoked_at"]);
}

TEST_CASE("a key made with --expires-in 2s works until it expires and is refused after") {
  KeyedServer k;
  int64_t before = now_ms();
  std::string key = k.create("short-lived", {"--expires-in", "2s"});
  int64_t after = now_ms();
  json rec = k.show(k.id_of("short-lived"));
  int64_t expires = parse_rfc3339(rec["expires_at"]);
  CHECK(expires >= before + 2000);
  CHECK(expires <= after + 2000);

  auto c = k.s.client();
  int64_t first_refusal_seen = -1;
  bool ended = eventually(
      [&] {
        int64_t sent = now_ms();
        int status = get_status(c, "/jobs", key);
        if (status == 200) {
          CHECK_MESSAGE(sent < expires, "the key worked after its expiry");
          return false;
        }
        CHECK(status == 401);
        first_refusal_seen = now_ms();
        return true;
      },
      5s, 200ms);
  REQUIRE(ended);
  CHECK(first_refusal_seen >= expires);
}

TEST_CASE("every kind of bad key gets the same 401: missing, malformed, checksum, unknown, revoked, expired") {
  KeyedServer k;
  std::string expired = k.create("expired", {"--expires-in", "1s"});
  std::string revoked = k.create("revoked");
  std::string valid = k.create("valid");
  REQUIRE(k.cli({"keys", "revoke", k.id_of("revoked")}).status == 0);
  std::string checksum = valid;
  checksum.back() = checksum.back() == 'a' ? 'b' : 'a';
  std::string unknown = mlgate::generate_api_key();  // well-formed, in no database
  k.secrets.insert(k.secrets.end(), {checksum, unknown});
  auto c = k.s.client();
  // Wait for the expired key to be refused (and the revocation to land).
  REQUIRE(eventually([&] { return get_status(c, "/jobs", expired) == 401; }, 4s, 250ms));
  REQUIRE(eventually([&] { return get_status(c, "/jobs", revoked) == 401; }, 2s, 100ms));

  struct Case {
    const char* what;
    std::string key;
  };
  std::vector<Case> cases = {{"missing", ""},        {"malformed", "hunter2"},
                             {"checksum", checksum}, {"unknown", unknown},
                             {"revoked", revoked},   {"expired", expired}};
  std::optional<std::string> body;
  std::optional<std::string> challenge;
  for (auto& cs : cases) {
    CAPTURE(cs.what);
    httplib::Headers h;
    if (!cs.key.empty()) h.emplace("X-API-Key", cs.key);
    auto r = c.Get("/jobs", h);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(json::parse(r->body) == json{{"detail", "Invalid or missing API Key"}});
    if (!body) body = r->body;
    CHECK(r->body == *body);
    if (!challenge) challenge = r->get_header_value("WWW-Authenticate");
    CHECK(!challenge->empty());
    CHECK(r->get_header_value("WWW-Authenticate") == *challenge);
  }
  CHECK(get_status(c, "/jobs", valid) == 200);
}

// ----------------------------------------------------------------- scopes

TEST_CASE("a key without the predict scope gets 403 with a detail body on POST /predict") {
  KeyedServer k;
  std::string reader = k.create("reader", {"--scopes", "read"});
  auto c = k.s.client();
  auto r = post_predict(c, reader);
  REQUIRE(r);
  CHECK(r->status == 403);
  auto j = json::parse(r->body);
  REQUIRE(j.contains("detail"));
  CHECK(j["detail"].is_string());
  CHECK(get_status(c, "/jobs", reader) == 200);  // its own scope works
}

TEST_CASE("GET /metrics needs the metrics scope and then serves Prometheus text") {
  KeyedServer k;
  std::string plain = k.create("plain");
  std::string ops = k.create("ops", {"--scopes", "metrics"});
  auto c = k.s.client();
  auto r = c.Get("/metrics", {{"X-API-Key", plain}});
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(json::parse(r->body).contains("detail"));
  r = c.Get("/metrics", {{"X-API-Key", ops}});
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
  CHECK(r->body.find("# TYPE ") != std::string::npos);
  CHECK(r->body.find("mlgate_auth_failures_total") != std::string::npos);
  // A metrics-only key cannot submit work.
  r = post_predict(c, ops);
  REQUIRE(r);
  CHECK(r->status == 403);
}

// -------------------------------------------------------------- guessing

TEST_CASE("the 21st wrong key in a minute from one address gets 429 on every keyed route") {
  KeyedServer k;
  std::string valid = k.create("valid");
  auto c = k.s.client();
  // Twenty failures, half malformed and half well-formed but unknown: both
  // kinds count against the address.
  for (int i = 0; i < 20; ++i) {
    std::string guess;
    if (i % 2)
      guess = "mlg_not-a-real-key-" + std::to_string(i);
    else
      guess = mlgate::generate_api_key();  // well-formed, unknown to this server
    k.secrets.push_back(guess);
    CAPTURE(i);
    CHECK(get_status(c, "/jobs", guess) == 401);
  }
  auto r = c.Get("/jobs", {{"X-API-Key", "mlg_twenty-first"}});
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(std::stoi(r->get_header_value("Retry-After")) >= 1);
  CHECK(json::parse(r->body)["detail"].get<std::string>().rfind("Rate limit exceeded", 0) == 0);
  // Every route that needs a key is closed to the address, even with a valid key...
  CHECK(get_status(c, "/jobs", valid) == 429);
  r = post_predict(c, valid);
  REQUIRE(r);
  CHECK(r->status == 429);
  // ...while routes without a key still answer.
  auto h = c.Get("/health");
  REQUIRE(h);
  CHECK(h->status == 200);
}

// ------------------------------------------------------------- the CLI

TEST_CASE("keys list and show give every field and no secret, as a table and as JSON") {
  KeyedServer k;
  std::string a = k.create("alice", {"--owner", "acme", "--tier", "premium", "--scopes",
                                     "predict,metrics", "--expires-in", "30d"});
  std::string b = k.create("bob");
  std::string bob_id = k.id_of("bob");
  REQUIRE(k.cli({"keys", "revoke", bob_id}).status == 0);

  CliResult table = k.cli({"keys", "list"});
  REQUIRE(table.status == 0);
  for (const char* col : {"ID", "NAME", "OWNER", "TIER", "SCOPES", "EXPIRES", "REVOKED", "LAST USED"})
    CHECK_MESSAGE(table.out.find(col) != std::string::npos, col);
  for (const char* v : {"alice", "acme", "premium", "predict,metrics", "bob", "free", "never"})
    CHECK_MESSAGE(table.out.find(v) != std::string::npos, v);
  CHECK(table.out.find(k.id_of("alice")) != std::string::npos);
  CHECK(table.out.find(bob_id) != std::string::npos);
  CHECK(std::count(table.out.begin(), table.out.end(), '\n') == 3);

  json keys = k.list_json();
  REQUIRE(keys.size() == 2);
  for (auto& rec : keys) {
    for (const char* f : {"id", "name", "owner", "tier", "scopes", "created_at", "expires_at",
                          "revoked_at", "last_used_at"})
      CHECK_MESSAGE(rec.contains(f), f);
    CHECK_FALSE(rec.contains("hash"));
    CHECK_FALSE(rec.contains("key"));
  }
  json alice = keys[0]["name"] == "alice" ? keys[0] : keys[1];
  json bob = keys[0]["name"] == "bob" ? keys[0] : keys[1];
  CHECK(alice["owner"] == "acme");
  CHECK(alice["tier"] == "premium");
  CHECK(alice["scopes"] == "predict,metrics");
  CHECK(alice["expires_at"].is_string());
  CHECK(alice["revoked_at"].is_null());
  CHECK(bob["owner"] == "bob");
  CHECK(bob["scopes"] == "predict,read");
  CHECK(bob["expires_at"].is_null());
  CHECK(bob["revoked_at"].is_string());
  CHECK(k.show(bob_id) == bob);

  CliResult plain = k.cli({"keys", "show", bob_id});
  REQUIRE(plain.status == 0);
  CHECK(plain.out.find("owner: bob") != std::string::npos);
  CHECK(plain.out.find("revoked_at: 20") != std::string::npos);

  // No output of any of these holds a key (the destructor checks stderr).
  std::string all = table.out + k.cli({"keys", "list", "--json"}).out + plain.out;
  for (auto& s : {a, b}) CHECK(all.find(s.substr(4, 32)) == std::string::npos);
}

TEST_CASE("last_used_at is not written per request but is written by the shutdown flush") {
  KeyedServer k;
  std::string key = k.create("alice");
  std::string unused = k.create("bob");
  std::string id = k.id_of("alice");
  auto c = k.s.client();
  int64_t before = now_ms();
  REQUIRE(get_status(c, "/jobs", key) == 200);
  int64_t after = now_ms();
  // The server flushes every 30 s: a request does not write at once.
  CHECK(k.show(id)["last_used_at"].is_null());
  k.s.signal(SIGTERM);
  REQUIRE(k.s.wait_exit() == 0);
  json rec = k.show(id);
  REQUIRE(rec["last_used_at"].is_string());
  int64_t used = parse_rfc3339(rec["last_used_at"]);
  CHECK(used >= before);
  CHECK(used <= after);
  CHECK(k.show(k.id_of("bob"))["last_used_at"].is_null());
  CliResult table = k.cli({"keys", "list"});
  CHECK(table.out.find(rec["last_used_at"].get<std::string>()) != std::string::npos);
}

TEST_CASE("keys commands exit 2 on a usage error and 1 on an unknown id, with one line on stderr") {
  KeyedServer k;
  std::string key = k.create("alice");
  std::string id = k.id_of("alice");
  struct Case {
    std::vector<std::string> args;
    int status;
  };
  std::vector<Case> cases = {
      {{"keys"}, 2},
      {{"keys", "frobnicate"}, 2},
      {{"keys", "create"}, 2},
      {{"keys", "create", "--name"}, 2},
      {{"keys", "create", "--name", "x", "--scopes", "predict,bogus"}, 2},
      {{"keys", "create", "--name", "x", "--scopes", ""}, 2},
      {{"keys", "create", "--name", "x", "--expires-in", "30days"}, 2},
      {{"keys", "create", "--name", "x", "--expires-in", "0s"}, 2},
      {{"keys", "create", "--name", "x", "--expires-in", "-5s"}, 2},
      {{"keys", "create", "--name", "x", "--expires-in", "106751991d"}, 2},  // overflows now + d
      {{"keys", "rotate", id, "--grace", "106751991d"}, 2},
      {{"keys", "create", "--name", "x", "--colour", "red"}, 2},
      {{"keys", "create", "stray", "--name", "x"}, 2},
      {{"keys", "list", "stray"}, 2},
      {{"keys", "show"}, 2},
      {{"keys", "revoke"}, 2},
      {{"keys", "revoke", id, id}, 2},
      {{"keys", "rotate", id, "--grace", "soon"}, 2},
      {{"keys", "show", "key_doesnotexist"}, 1},
      {{"keys", "revoke", "key_doesnotexist"}, 1},
      {{"keys", "rotate", "key_doesnotexist"}, 1},
  };
  for (auto& cs : cases) {
    std::string shown;
    for (auto& a : cs.args) shown += a + " ";
    CAPTURE(shown);
    CliResult r = k.cli(cs.args);
    CHECK(r.status == cs.status);
    CHECK(r.out.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  // None of the refused commands made, changed or ended a key.
  json keys = k.list_json();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0]["revoked_at"].is_null());
  CHECK(keys[0]["expires_at"].is_null());
  auto c = k.s.client();
  CHECK(get_status(c, "/jobs", key) == 200);
  // A revoked key cannot be rotated back to life.
  REQUIRE(k.cli({"keys", "revoke", id}).status == 0);
  CliResult r = k.cli({"keys", "rotate", id});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
}
