#include "pg_api.hpp"

#include <dlfcn.h>

#include <string>

#include "job_store.hpp"  // StorageUnavailable

namespace mlgate {
namespace {

PgApi load() {
  // RTLD_LOCAL: its symbols stay out of the global namespace; never
  // unloaded (the handle lives as long as the process).
  void* lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    throw StorageUnavailable(std::string("PostgreSQL client library not found (apt-get install libpq5): ") +
                             (e ? e : "libpq.so.5"));
  }
  PgApi api;
#define MLGATE_PQ_LOAD(name)                                                          \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(lib, #name));               \
  if (!api.name) throw StorageUnavailable("libpq.so.5 has no " #name ": too old a libpq");
  MLGATE_PQ_FUNCTIONS(MLGATE_PQ_LOAD)
#undef MLGATE_PQ_LOAD
  return api;
}

}  // namespace

const PgApi& pg_api() {
  // A throwing initializer leaves the static uninitialised: the next call
  // tries again.
  static const PgApi api = load();
  return api;
}

}  // namespace mlgate
