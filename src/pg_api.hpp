// pg_api.hpp: libpq, loaded when a PostgreSQL database is first used.
//
// Why not linked: libpq brings about twenty shared libraries with it
// (Kerberos, LDAP, ...), which cost the default binary 3.6 MiB of resident
// memory (+24%) at start-up, on every edge device that never names a
// PostgreSQL database (measured with bench/startup.sh; README, "Measured").
// So the functions are looked up with dlopen/dlsym the first time a
// --database postgresql:// is opened, and the SQLite default maps none of
// it. The types and declarations still come from libpq-fe.h at build time.
#pragma once

#include <libpq-fe.h>

namespace mlgate {

#define MLGATE_PQ_FUNCTIONS(X)                                                              \
  X(PQclear) X(PQconnectPoll) X(PQconnectStart) X(PQconninfoFree) X(PQconninfoParse)        \
  X(PQconsumeInput) X(PQerrorMessage) X(PQfinish) X(PQflush) X(PQfreemem) X(PQgetResult)    \
  X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQisBusy) X(PQnotifies) X(PQntuples)        \
  X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus) X(PQsendPrepare)         \
  X(PQsendQuery) X(PQsendQueryPrepared)                                                     \
  X(PQsendQueryParams) X(PQsetNoticeProcessor) X(PQsetnonblocking) X(PQsocket) X(PQstatus) \
  X(PQtransactionStatus)

struct PgApi {
#define MLGATE_PQ_MEMBER(name) decltype(&::name) name = nullptr;
  MLGATE_PQ_FUNCTIONS(MLGATE_PQ_MEMBER)
#undef MLGATE_PQ_MEMBER
};

// libpq's functions, loaded on the first call (thread-safe). Throws
// StorageUnavailable naming the library when it cannot be loaded (Debian:
// apt-get install libpq5); a later call tries again.
const PgApi& pg_api();

}  // namespace mlgate
