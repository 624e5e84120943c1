// The key-management recipe for a service that runs as its own user:
// `runuser -u USER -- mlgate keys create` works on the service's directory,
// and the same command run as root works as the directory's owner, so it
// never leaves a file the service cannot open ("attempt to write a readonly
// database" before). The stand-in for the packaged user "mlgate" is the
// system's "nobody"; the server itself is started as that user too.
#include <doctest/doctest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.hpp"
#include "harness_sh.hpp"

using namespace e2e;
namespace fs = std::filesystem;

namespace {

const passwd* service_user() {
  if (::geteuid() != 0 || !have_command("runuser") || !have_command("setpriv")) return nullptr;
  return ::getpwnam("nobody");
}

// A data directory owned by `pw`, in a temp directory it can reach.
fs::path owned_dir(const TempDir& t, const passwd* pw) {
  fs::permissions(t.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  fs::path data = t.path / "data";
  fs::create_directory(data);
  REQUIRE(::chown(data.c_str(), pw->pw_uid, pw->pw_gid) == 0);
  return data;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

TEST_CASE("keys for a service user's directory: runuser works, and root works as the owner") {
  const passwd* pw = service_user();
  if (!pw) {
    MESSAGE("SKIPPED: needs root, runuser, setpriv and the user nobody");
    return;
  }
  TempDir t;
  fs::path data = owned_dir(t, pw);
  const std::string bin = sh_quote(MLGATE_BINARY), dir = sh_quote(data.string());
  const std::string as_user = "runuser -u " + std::string(pw->pw_name) + " -- ";

  // Root first, on the empty directory: before, this made a root-owned
  // database that the service's user could then not write.
  auto a = run_sh(bin + " keys create --init --name a --data-dir " + dir);
  REQUIRE_MESSAGE(a.status == 0, a.err);
  CHECK(a.err == "mlgate: running as " + std::string(pw->pw_name) + ", the owner of " + data.string() + "\n");
  auto owned_by_user = [&] {
    for (auto& e : fs::directory_iterator(data)) {
      struct stat st {};
      REQUIRE(::stat(e.path().c_str(), &st) == 0);
      CHECK_MESSAGE(st.st_uid == pw->pw_uid, e.path());
    }
  };
  owned_by_user();
  // The recipe: the service's user writes the same database.
  auto b = run_sh(as_user + bin + " keys create --name b --data-dir " + dir);
  REQUIRE_MESSAGE(b.status == 0, b.err);
  CHECK(b.err.empty());
  auto c = run_sh(bin + " keys create --name c --data-dir " + dir);  // root again
  REQUIRE_MESSAGE(c.status == 0, c.err);
  owned_by_user();

  // The service, run as that user, accepts all three keys.
  ShellServer s("setpriv --reuid=" + std::to_string(pw->pw_uid) + " --regid=" +
                    std::to_string(pw->pw_gid) + " --clear-groups " + bin +
                    " serve --port 0 --data-dir " + dir,
                t.path / "server.log");
  httplib::Client http("127.0.0.1", s.port());
  for (const auto* r : {&a, &b, &c}) {
    auto res = post_predict(http, first_line(r->out));
    REQUIRE(res);
    CHECK(res->status == 202);
  }
  CHECK(s.log().find("readonly") == std::string::npos);
}

TEST_CASE("as root, database files owned by someone else than their directory are refused, untouched") {
  const passwd* pw = service_user();
  if (!pw) {
    MESSAGE("SKIPPED: needs root, runuser, setpriv and the user nobody");
    return;
  }
  TempDir t;
  fs::path data = t.path / "data";
  fs::create_directory(data);
  // What an older mlgate run as root left: root's database in the service's directory.
  REQUIRE(run_cli({"keys", "create", "--init", "--name", "old", "--data-dir", data.string()}).status == 0);
  REQUIRE(::chown(data.c_str(), pw->pw_uid, pw->pw_gid) == 0);
  auto r = run_cli({"keys", "list", "--data-dir", data.string()});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "mlgate: " + data.string() + "/mlgate.db and its directory have different owners; " +
                     "repair with chown -R --reference=" + data.string() + " " + data.string() + "\n");
}
