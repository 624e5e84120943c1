// harness_conn_checks.hpp: connection-loop checks run both over plain TCP
// (test_conn_loop.cpp) and over TLS (test_tls.cpp), so the two transports
// are held to the same behaviour.
#pragma once

#include <string>

#include "harness.hpp"
#include "harness_faults.hpp"  // ScopedEnv

namespace e2e {

// Several connections flood header lines (tens of MB in all, reconnecting
// when cut off): each is answered 431 and closed, and the server's resident
// memory, sampled while it runs, stays within 30 MB of where it started.
void check_header_flood(const ServerProc& s, bool tls);

// For the server of a check that bounds resident memory: under
// AddressSanitizer freed memory waits in a quarantine (up to 256 MiB) before
// it is reused, so resident memory follows what was allocated, not what is
// kept. While `env` lives, servers started reuse freed memory at once, as
// in a Release build. No effect in other builds.
void reuse_freed_memory_under_asan(ScopedEnv& env);

// Requests sent in one write are answered in order, each once: GET+GET,
// a refused POST (its body drained) + GET, POST+POST (both stored once).
void check_pipelining(const ServerProc& s, const std::string& key, bool tls);

// A client that half-closes after its request (shutdown(SHUT_WR)) gets its
// answer, then the connection closes: for GET and for POST.
void check_half_close(const ServerProc& s, const std::string& key, bool tls);

}  // namespace e2e
