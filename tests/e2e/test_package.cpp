// The Debian package, as an operator gets it: built by CPack from this build
// tree (the binary the other tests use, not a second build), installed by
// dpkg into a throwaway root with its maintainer scripts, then used the way
// README's install section says: the service's user and directory exist, a
// key is created, the unit's own command line serves with the packaged
// config, and the key is accepted. systemd-analyze verifies the unit.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "harness_sh.hpp"

using namespace e2e;
namespace fs = std::filesystem;

namespace {

// A dpkg database in `root`, enough for dpkg --root.
void make_dpkg_root(const fs::path& root) {
  for (const char* d : {"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc", "var/log"})
    fs::create_directories(root / d);
  std::ofstream(root / "var/lib/dpkg/status");
  std::ofstream(root / "var/lib/dpkg/available");
}

// The packaged unit's ExecStart= command, with its paths moved into `root`.
std::string exec_start(const fs::path& root) {
  std::string unit = read_file(root / "lib/systemd/system/mlgate.service");
  std::smatch m;
  REQUIRE(std::regex_search(unit, m, std::regex(R"(\nExecStart=([^\n]+))")));
  std::string cmd = m[1];
  cmd = std::regex_replace(cmd, std::regex("/usr/bin/"), (root / "usr/bin/").string());
  cmd = std::regex_replace(cmd, std::regex("/etc/mlgate/"), (root / "etc/mlgate/").string());
  return cmd;
}

}  // namespace

TEST_CASE("the Debian package installs a working service: user, unit, config, man page, completion") {
  for (const char* tool : {"cpack", "dpkg-deb", "dpkg"})
    if (!have_command(tool)) {
      MESSAGE("SKIPPED: " << tool << " is not installed");
      return;
    }
  TempDir tmp;
  fs::permissions(tmp.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
  // gzip rather than the package's xz: the sanitizer build's 60 MB binary
  // took two minutes to compress with xz on a loaded two-core machine, and
  // the test is about the package's content.
  auto build = run_sh("cpack -G DEB -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip --config " +
                          sh_quote(MLGATE_BUILD_DIR "/CPackConfig.cmake") + " -B " +
                          sh_quote((tmp.path / "out").string()),
                      600);
  REQUIRE_MESSAGE(build.status == 0, build.out << build.err);
  fs::path deb;
  for (auto& e : fs::directory_iterator(tmp.path / "out"))
    if (e.path().extension() == ".deb") deb = e.path();
  REQUIRE(!deb.empty());
  const std::string q = sh_quote(deb.string());

  // Dependencies computed from the binary (dpkg-shlibdeps), the conffile.
  auto depends = run_sh("dpkg-deb -f " + q + " Depends").out;
  CHECK(depends.find("libsqlite3-0") != std::string::npos);
  CHECK(depends.find("libcpp-httplib") != std::string::npos);
  CHECK(depends.find("libssl3") != std::string::npos);
  CHECK(run_sh("dpkg-deb -I " + q + " conffiles").out == "/etc/mlgate/mlgate.json\n");

  // Installed by dpkg itself, maintainer scripts included (run without a
  // chroot, on the root: $DPKG_ROOT).
  fs::path root = tmp.path / "root";
  make_dpkg_root(root);
  const std::string r = sh_quote(root.string());
  bool as_root = ::geteuid() == 0;
  if (as_root) {
    auto inst = run_sh("dpkg --root=" + r + " --force-script-chrootless --force-depends --log=/dev/null -i " + q);
    REQUIRE_MESSAGE(inst.status == 0, inst.out << inst.err);
  } else {
    MESSAGE("SKIPPED: the maintainer scripts (dpkg --root needs root); unpacking only");
    REQUIRE(run_sh("dpkg-deb -x " + q + " " + r).status == 0);
  }
  for (const char* f : {"usr/bin/mlgate", "lib/systemd/system/mlgate.service", "etc/mlgate/mlgate.json",
                        "usr/share/man/man1/mlgate.1.gz", "usr/share/bash-completion/completions/mlgate",
                        "usr/lib/sysusers.d/mlgate.conf", "usr/lib/tmpfiles.d/mlgate.conf",
                        "usr/share/doc/mlgate/copyright", "usr/share/doc/mlgate/changelog.Debian.gz",
                        "usr/share/doc/mlgate/examples/client.py"}) {
    CAPTURE(f);
    CHECK(fs::exists(root / f));
  }
  const std::string bin = sh_quote((root / "usr/bin/mlgate").string());

  // The installed binary runs.
  auto v = run_sh(bin + " version");
  CHECK(v.status == 0);
  CHECK(v.out == "mlgate " MLGATE_VERSION "\n");
  auto help = run_sh(bin + " --help");
  CHECK(help.status == 0);
  CHECK(help.out.find("serve") != std::string::npos);
  CHECK(run_sh(bin + " serve --help").out.find("--port") != std::string::npos);

  // postinst: the system user mlgate (home /var/lib/mlgate, no shell), its
  // directory (0700, its own), and the unit enabled.
  if (as_root) {
    std::smatch m;
    std::string passwd = read_file(root / "etc/passwd");
    REQUIRE(std::regex_search(
        passwd, m, std::regex(R"((?:^|\n)mlgate:x:(\d+):(\d+):[^:]*:/var/lib/mlgate:/usr/sbin/nologin\n)")));
    const uid_t uid = static_cast<uid_t>(std::stoul(m[1])), gid = static_cast<gid_t>(std::stoul(m[2]));
    struct stat st {};
    REQUIRE(::stat((root / "var/lib/mlgate").c_str(), &st) == 0);
    CHECK(st.st_uid == uid);
    CHECK((st.st_mode & 07777) == 0700);
    CHECK(fs::is_symlink(root / "etc/systemd/system/multi-user.target.wants/mlgate.service"));

    // The README's recipe: a key for the service's data, created as root,
    // which mlgate does as the directory's owner; then the unit's command
    // line, as the unit runs it (User=mlgate, StateDirectory=mlgate).
    fs::path data = root / "var/lib/mlgate";
    // --init: in a throwaway root the unit never ran, so there is no
    // database yet (on a real install postinst has started the service).
    auto key = run_sh(bin + " keys create --init --name operator --data-dir " + sh_quote(data.string()));
    REQUIRE_MESSAGE(key.status == 0, key.err);
    CHECK(key.err.find("running as") != std::string::npos);
    std::string k = key.out.substr(0, key.out.find('\n'));
    CHECK(k.rfind("mlg_", 0) == 0);
    for (const char* f : {"mlgate.db", "mlgate.db-wal", "mlgate.db-shm"}) {
      struct stat fst {};
      if (::stat((data / f).c_str(), &fst) == 0) CHECK_MESSAGE(fst.st_uid == uid, f);
    }
    ShellServer service("STATE_DIRECTORY=" + sh_quote(data.string()) + " setpriv --reuid=" +
                            std::to_string(uid) + " --regid=" + std::to_string(gid) +
                            " --clear-groups " + exec_start(root) + " --port 0",
                        tmp.path / "service.log");
    CHECK(service.log().find("\"data_dir\":\"" + data.string() + "\"") != std::string::npos);
    httplib::Client c("127.0.0.1", service.port());
    auto res = post_predict(c, k, "The packaged service works nicely", {{"Prefer", "wait=10"}});
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(json::parse(res->body)["status"] == "completed");
  }

  // The unit, with its paths in the root, passes systemd-analyze verify
  // (binary executable, man page found, no unknown key).
  if (have_command("systemd-analyze")) {
    // The single unit, and the template for several instances (as instance "a").
    for (auto [file, as] : {std::pair{"mlgate.service", "mlgate.service"},
                            std::pair{"mlgate@.service", "mlgate@a.service"}}) {
      std::string unit = read_file(root / "lib/systemd/system" / file);
      REQUIRE_MESSAGE(!unit.empty(), file);
      unit = std::regex_replace(unit, std::regex("ExecStart=[^\n]+"), "ExecStart=" + exec_start(root));
      fs::path copy = tmp.path / "unit" / as;
      fs::create_directories(copy.parent_path());
      std::ofstream(copy) << unit;
      auto verify = run_sh("MANPATH=" + sh_quote((root / "usr/share/man").string()) +
                           " systemd-analyze verify " + sh_quote(copy.string()));
      CHECK_MESSAGE(verify.status == 0, file << ": " << verify.err);
      CHECK_MESSAGE(verify.err.empty(), file << ": " << verify.err);
      CHECK(verify.out.empty());
    }
  } else {
    MESSAGE("SKIPPED: systemd-analyze verify (systemd is not installed)");
  }

  // The man page: renders without a warning, and names every subcommand
  // and every flag (serve's straight from the installed binary's --help).
  std::string man = run_sh("zcat " + sh_quote((root / "usr/share/man/man1/mlgate.1.gz").string())).out;
  man = std::regex_replace(man, std::regex(R"(\\-)"), "-");
  auto serve_help = run_sh(bin + " serve --help").out;
  std::vector<std::string> flags;
  const std::regex flag_line(R"(\n  (--[a-z0-9-]+))");
  for (std::sregex_iterator it(serve_help.begin(), serve_help.end(), flag_line), end; it != end; ++it)
    flags.push_back((*it)[1]);
  CHECK(flags.size() >= 20);
  for (const char* f : {"--name", "--owner", "--tier", "--scopes", "--expires-in", "--grace", "--json",
                        "--data-dir", "--status", "--limit", "--older-than", "--model", "--lexicon", "--text"})
    flags.push_back(f);
  for (const auto& f : flags) CHECK_MESSAGE(man.find(f) != std::string::npos, "man page lacks " << f);
  for (const char* sub : {"serve", "predict", "keys create", "keys list", "keys show", "keys revoke",
                          "keys rotate", "jobs list", "jobs show", "jobs purge", "version"})
    CHECK_MESSAGE(man.find(sub) != std::string::npos, "man page lacks " << sub);
  if (have_command("groff")) {
    auto g = run_sh("zcat " + sh_quote((root / "usr/share/man/man1/mlgate.1.gz").string()) +
                    " | groff -man -ww -z");
    CHECK_MESSAGE(g.err.empty(), g.err);
  }

  // Bash completion: serve's flags come from the binary; keys' subcommands.
  std::string complete = "PATH=" + sh_quote((root / "usr/bin").string()) + ":$PATH; . " +
                         sh_quote((root / "usr/share/bash-completion/completions/mlgate").string()) + "; ";
  auto flag = run_sh("bash -c " + sh_quote(complete + "COMP_WORDS=(mlgate serve --keep-al); COMP_CWORD=2; "
                                                      "_mlgate; echo \"${COMPREPLY[*]}\""));
  CHECK(flag.out == "--keep-alive-timeout\n");
  auto sub = run_sh("bash -c " + sh_quote(complete + "COMP_WORDS=(mlgate keys ro); COMP_CWORD=2; "
                                                     "_mlgate; echo \"${COMPREPLY[*]}\""));
  CHECK(sub.out == "rotate\n");

  // Purge: the data and the conffile go, the unit is no longer enabled.
  if (as_root) {
    auto purge = run_sh("dpkg --root=" + r + " --force-script-chrootless --log=/dev/null --purge mlgate");
    CHECK_MESSAGE(purge.status == 0, purge.err);
    CHECK_FALSE(fs::exists(root / "var/lib/mlgate"));
    CHECK_FALSE(fs::exists(root / "etc/mlgate/mlgate.json"));
    CHECK_FALSE(fs::exists(root / "etc/systemd/system/multi-user.target.wants/mlgate.service"));
  }
}
