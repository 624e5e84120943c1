// Unit tests for data_owner.cpp, for the cases that leave the process as it
// is (a switch of user cannot be undone, so that one is an end-to-end test:
// e2e/test_admin_owner.cpp).
#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>

#include "data_owner.hpp"
#include "temp_dir.hpp"

using mlgate::act_as_data_owner;

TEST_CASE("no directory, or a directory of the user running it: nothing changes") {
  mlgate::testutil::TempDir t;
  const uid_t uid = ::geteuid();
  CHECK(act_as_data_owner(t.file("missing")).empty());
  CHECK(act_as_data_owner(t.path.string()).empty());  // ours (root's when run as root)
  CHECK(::geteuid() == uid);
}

TEST_CASE("as root: a database file owned by another user than its directory is refused") {
  if (::geteuid() != 0) {
    MESSAGE("SKIPPED: needs root (chown)");
    return;
  }
  mlgate::testutil::TempDir t;
  std::ofstream(t.file("mlgate.db")) << "x";
  REQUIRE(::chown(t.file("mlgate.db").c_str(), 65534, 65534) == 0);
  CHECK_THROWS_WITH(act_as_data_owner(t.path.string()),
                    doctest::Contains("have different owners; repair with chown -R --reference="));
  CHECK(::geteuid() == 0);
}
