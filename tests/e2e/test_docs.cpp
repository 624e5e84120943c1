// GET /docs: a self-contained page that lists the API and lets a person
// try a call. The last test drives it in a real browser: headless Chromium
// (Debian's chromium, spoken to over --remote-debugging-pipe with the
// DevTools protocol) loads the page, types a key and a text into its form,
// presses Send, and reads the finished job off the page.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "harness.hpp"
#include "routes.hpp"

using namespace e2e;

namespace {

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

// One headless browser, driven over the DevTools protocol on a pipe pair:
// the browser reads commands on its fd 3 and writes answers and events on
// its fd 4, each message a JSON text ended by a NUL byte.
class Browser {
 public:
  explicit Browser(const std::string& binary) {
    int to[2], from[2];
    REQUIRE(::pipe2(to, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(from, O_CLOEXEC) == 0);
    std::string profile = (profile_.path / "profile").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Out of the way of 3 and 4 first, then into place (dup2 clears CLOEXEC).
      int in = ::fcntl(to[0], F_DUPFD_CLOEXEC, 10), out = ::fcntl(from[1], F_DUPFD_CLOEXEC, 10);
      ::dup2(in, 3);
      ::dup2(out, 4);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::string dir = "--user-data-dir=" + profile;
      ::execl(binary.c_str(), binary.c_str(), "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
              "--remote-debugging-pipe", dir.c_str(), "about:blank", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(to[0]);
    ::close(from[1]);
    out_ = to[1];
    in_ = from[0];
  }

  ~Browser() {
    ::close(out_);
    ::close(in_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Sends a command and returns its "result" (throws on an error answer).
  json call(const std::string& method, const json& params = json::object(),
            const std::string& session = "") {
    int id = ++last_id_;
    json msg = {{"id", id}, {"method", method}, {"params", params}};
    if (!session.empty()) msg["sessionId"] = session;
    std::string text = msg.dump();
    text.push_back('\0');
    REQUIRE(::write(out_, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    for (;;) {
      json m = next_message();
      if (m.value("id", 0) != id) continue;  // an event, or another answer
      if (m.contains("error")) throw std::runtime_error(method + ": " + m["error"].dump());
      return m["result"];
    }
  }

  // Evaluates `js` in the page (awaiting a promise) and returns its value.
  json eval(const std::string& session, const std::string& js) {
    auto r = call("Runtime.evaluate",
                  {{"expression", js}, {"awaitPromise", true}, {"returnByValue", true}}, session);
    if (r.contains("exceptionDetails")) throw std::runtime_error("page: " + r["exceptionDetails"].dump());
    return r["result"].value("value", json());
  }

 private:
  json next_message() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      if (auto nul = buf_.find('\0'); nul != std::string::npos) {
        std::string one = buf_.substr(0, nul);
        buf_.erase(0, nul + 1);
        return json::parse(one);
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("browser silent");
      pollfd p{in_, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      char chunk[65536];
      ssize_t n = ::read(in_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("browser exited");
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  TempDir profile_;
  pid_t pid_ = -1;
  int out_ = -1, in_ = -1;
  int last_id_ = 0;
  std::string buf_;
};

// Polls `js` in the page until it is true or `seconds` pass.
bool wait_for(Browser& b, const std::string& session, const std::string& js, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (b.eval(session, js) == true) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

TEST_CASE("/docs is a public HTML page of every route, loading nothing from elsewhere") {
  ServerProc s;
  auto c = s.client();
  auto r = c.Get("/docs");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
  std::string csp = r->get_header_value("Content-Security-Policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("connect-src 'self'") != std::string::npos);
  const std::string& html = r->body;
  for (const mlgate::Route& rt : mlgate::routes()) {
    CAPTURE(rt.operation_id);
    CHECK(html.find("id=\"" + std::string(rt.operation_id) + "\"") != std::string::npos);
    CHECK(html.find("<option value=\"" + std::string(rt.method) + " " + rt.path + "\"") !=
          std::string::npos);
  }
  // Self-contained: no script, style, image or frame from anywhere.
  for (const char* bad : {"src=", "<link", "http://", "https://", "@import", "url("}) {
    CAPTURE(bad);
    CHECK(html.find(bad) == std::string::npos);
  }
}

TEST_CASE("in headless Chromium, the /docs form posts a text with a key and shows the finished job") {
  std::string chromium = find_chromium();
  if (chromium.empty()) {
    MESSAGE("SKIPPED: no Chromium (apt-get install chromium; scripts/deps.sh installs it)");
    return;
  }
  ServerProc s;
  std::string key = s.create_key("browser");
  Browser b(chromium);
  std::string url = "http://127.0.0.1:" + std::to_string(s.port()) + "/docs";
  std::string target = b.call("Target.createTarget", {{"url", url}})["targetId"];
  std::string session =
      b.call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}})["sessionId"];
  REQUIRE(wait_for(b, session,
                   "document.readyState === 'complete' && !!document.getElementById('try-form')", 60));

  // As a person would: type the key and a text, clear Prefer (so the page
  // gets a 202 and follows the job), press Send.
  b.eval(session, R"js(
    document.getElementById('key').value = )js" + json(key).dump() + R"js(;
    document.getElementById('op').value = 'POST /predict';
    document.getElementById('op').dispatchEvent(new Event('change'));
    document.getElementById('prefer').value = '';
    document.getElementById('body').value = '{"text": "What a wonderful, friendly place"}';
    document.getElementById('send').click();
  )js");
  REQUIRE_MESSAGE(wait_for(b, session, "document.getElementById('state').textContent === 'done'", 60),
                  "state: " << b.eval(session, "document.getElementById('state').textContent"));
  std::string status = b.eval(session, "document.getElementById('status').textContent");
  json job = json::parse(b.eval(session, "document.getElementById('response').textContent").get<std::string>());
  CHECK(status.rfind("200", 0) == 0);
  CHECK(job["status"] == "completed");
  CHECK(job["result_label"] == "positive");

  // The page posted once with the key, then polled the job's Location.
  std::string log = s.log();
  CHECK(std::regex_search(log, std::regex(R"("method":"POST"[^\n]*"route":"/predict","status":202)")));
  CHECK(std::regex_search(log, std::regex(R"("route":"/jobs/\{job_uuid\}","status":200)")));
}
