// thread_name.hpp: names the calling thread (at most 15 characters), so that
// `top -H`, `perf report --sort comm` and gdb show which part of mlgate a
// thread belongs to.
#pragma once

#include <pthread.h>

namespace mlgate {

inline void set_thread_name(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace mlgate
