#define DOCTEST_CONFIG_IMPLEMENT
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <doctest/doctest.h>

#include "harness_pg.hpp"

int main(int argc, char** argv) {
  // A server that closes a connection mid-write must fail a check, not kill
  // the test process.
  std::signal(SIGPIPE, SIG_IGN);
  // The suite on the PostgreSQL store without a PostgreSQL to run: skipped
  // as a whole (ctest's SKIP_RETURN_CODE), never run on SQLite instead.
  if (const char* e = std::getenv("MLGATE_E2E_DATABASE"); e && std::strcmp(e, "postgresql") == 0 &&
                                                          !test::PgServer::available())
    return 77;
  return doctest::Context(argc, argv).run();
}
