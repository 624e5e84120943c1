/* fault_shim.c: an LD_PRELOAD library for the end-to-end fault tests. It
 * makes the real mlgate binary see a failing disk and a wall clock that
 * jumps, without touching the binary.
 *
 * Failing calls. A rule fails matching calls to fsync/fdatasync ("fsync"),
 * write/pwrite/pwrite64/writev ("write") and pread/pread64 ("read", how
 * SQLite reads its files) on files whose path contains a pattern: from the
 * Nth matching call on, COUNT calls fail (-1: every one) with ERRNO and
 * write or read nothing. With delay_us=N in the rule, matching reads do not
 * fail but wait N microseconds first: a slow disk. The rule comes from the
 * environment:
 *   MLGATE_FAULT_OPS=fsync,write   MLGATE_FAULT_MATCH=mlgate.db
 *   MLGATE_FAULT_NTH=1  MLGATE_FAULT_COUNT=-1  MLGATE_FAULT_ERRNO=EIO|ENOSPC|<number>
 * and, when MLGATE_FAULT_CONTROL names a file, from that file's one line
 * ("ops=fsync match=mlgate.db nth=1 count=-1 errno=EIO"), re-read whenever
 * the file changes, so a test can start and stop a fault while the server
 * runs (an empty file: no fault). Counting starts again with each new rule.
 * Every failed call is appended to MLGATE_FAULT_LOG ("fsync <path> <errno>"),
 * so a test can prove the fault really happened.
 *
 * The wall clock. When MLGATE_CLOCK_OFFSET_FILE names a file holding a
 * signed number of seconds ("-3600", "86400.5"), CLOCK_REALTIME (and its
 * coarse variant), gettimeofday() and time() are shifted by it, re-read
 * whenever the file changes. The monotonic clocks are left alone, as a real
 * clock step leaves them.
 *
 * Without any of these variables every call goes straight through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { OP_FSYNC = 1, OP_WRITE = 2, OP_READ = 4 };

struct rule {
  int ops;
  char match[256];
  long nth, count, err;
  long delay_us; /* reads: wait this long instead of failing (0: fail) */
};

/* A file whose contents are re-read when its inode, size or mtime change. */
struct watched {
  const char* path;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  int present;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct rule rule;       /* guarded by mu */
static long seen;              /* matching calls under the current rule; mu */
static struct watched control; /* mu */
static struct watched clock_file;
static long long offset_ns;    /* guarded by mu */
static int log_fd = -1;

static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void*, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static ssize_t (*real_pread)(int, void*, size_t, off_t);
static ssize_t (*real_pread64)(int, void*, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_clock_gettime)(clockid_t, struct timespec*);

static long parse_errno(const char* v) {
  if (strcmp(v, "EIO") == 0) return EIO;
  if (strcmp(v, "ENOSPC") == 0) return ENOSPC;
  if (strcmp(v, "EDQUOT") == 0) return EDQUOT;
  return strtol(v, NULL, 10);
}

static void set_field(struct rule* r, const char* key, const char* v) {
  if (strcmp(key, "ops") == 0) {
    r->ops = (strstr(v, "fsync") ? OP_FSYNC : 0) | (strstr(v, "write") ? OP_WRITE : 0) |
             (strstr(v, "read") ? OP_READ : 0);
  } else if (strcmp(key, "match") == 0) {
    snprintf(r->match, sizeof r->match, "%s", v);
  } else if (strcmp(key, "nth") == 0) {
    r->nth = strtol(v, NULL, 10);
  } else if (strcmp(key, "count") == 0) {
    r->count = strtol(v, NULL, 10);
  } else if (strcmp(key, "errno") == 0) {
    r->err = parse_errno(v);
  } else if (strcmp(key, "delay_us") == 0) {
    r->delay_us = strtol(v, NULL, 10);
  }
}

static void default_rule(struct rule* r) {
  memset(r, 0, sizeof *r);
  r->nth = 1;
  r->count = -1;
  r->err = EIO;
}

/* True when the file changed since the last look (or appeared/vanished). */
static int changed(struct watched* w) {
  struct stat st;
  int present = w->path && stat(w->path, &st) == 0;
  if (!present) {
    int was = w->present;
    w->present = 0;
    return was;
  }
  if (w->present && st.st_dev == w->dev && st.st_ino == w->ino && st.st_size == w->size &&
      st.st_mtim.tv_sec == w->mtime.tv_sec && st.st_mtim.tv_nsec == w->mtime.tv_nsec)
    return 0;
  w->present = 1;
  w->dev = st.st_dev;
  w->ino = st.st_ino;
  w->size = st.st_size;
  w->mtime = st.st_mtim;
  return 1;
}

static size_t read_small(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return n > 0 ? (size_t)n : 0;
}

/* Caller holds mu. */
static void refresh_rule(void) {
  if (!control.path || !changed(&control)) return;
  char buf[512];
  read_small(control.path, buf, sizeof buf);
  default_rule(&rule);
  for (char *save = NULL, *tok = strtok_r(buf, " \t\r\n", &save); tok;
       tok = strtok_r(NULL, " \t\r\n", &save)) {
    char* eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = '\0';
    set_field(&rule, tok, eq + 1);
  }
  seen = 0;
}

static void note(const char* op, const char* path, long err) {
  if (log_fd < 0) return;
  char line[600];
  int n = snprintf(line, sizeof line, "%s %s %ld\n", op, path, err);
  if (n > 0) syscall(SYS_write, log_fd, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
}

/* Returns the errno to fail this call with, or 0 to let it through (after
 * waiting *delay_us, which a slow-read rule sets; NULL for other calls). */
static int should_fail(int op, int fd, long* delay_us) {
  if (!rule.ops && !control.path) return 0; /* inert: no lock, no syscalls */
  pthread_mutex_lock(&mu);
  refresh_rule();
  int fail = 0;
  if (rule.ops & op) {
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    if (n > 0 && strstr(path, rule.match)) {
      ++seen;
      if (seen >= rule.nth && (rule.count < 0 || seen < rule.nth + rule.count)) {
        if (delay_us && rule.delay_us > 0) {
          *delay_us = rule.delay_us;
          note("slow-read", path, 0);
        } else {
          fail = (int)rule.err;
          note(op == OP_FSYNC ? "fsync" : op == OP_WRITE ? "write" : "read", path, rule.err);
        }
      }
    }
  }
  pthread_mutex_unlock(&mu);
  return fail;
}

__attribute__((constructor)) static void init(void) {
  real_write = dlsym(RTLD_NEXT, "write");
  real_pwrite = dlsym(RTLD_NEXT, "pwrite");
  real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
  real_writev = dlsym(RTLD_NEXT, "writev");
  real_pread = dlsym(RTLD_NEXT, "pread");
  real_pread64 = dlsym(RTLD_NEXT, "pread64");
  real_fsync = dlsym(RTLD_NEXT, "fsync");
  real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
  real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
  default_rule(&rule);
  const char* v;
  if ((v = getenv("MLGATE_FAULT_OPS"))) set_field(&rule, "ops", v);
  if ((v = getenv("MLGATE_FAULT_MATCH"))) set_field(&rule, "match", v);
  if ((v = getenv("MLGATE_FAULT_NTH"))) set_field(&rule, "nth", v);
  if ((v = getenv("MLGATE_FAULT_COUNT"))) set_field(&rule, "count", v);
  if ((v = getenv("MLGATE_FAULT_ERRNO"))) set_field(&rule, "errno", v);
  if ((v = getenv("MLGATE_FAULT_CONTROL")) && *v) control.path = strdup(v);
  if ((v = getenv("MLGATE_CLOCK_OFFSET_FILE")) && *v) clock_file.path = strdup(v);
  if ((v = getenv("MLGATE_FAULT_LOG")) && *v)
    log_fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

ssize_t write(int fd, const void* buf, size_t n) {
  int e = should_fail(OP_WRITE, fd, NULL);
  if (e) return errno = e, -1;
  return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  int e = should_fail(OP_WRITE, fd, NULL);
  if (e) return errno = e, -1;
  return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  int e = should_fail(OP_WRITE, fd, NULL);
  if (e) return errno = e, -1;
  return real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec* iov, int n) {
  int e = should_fail(OP_WRITE, fd, NULL);
  if (e) return errno = e, -1;
  return real_writev(fd, iov, n);
}

static int read_fault(int fd) {
  long delay_us = 0;
  int e = should_fail(OP_READ, fd, &delay_us);
  if (delay_us > 0) {
    struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    nanosleep(&ts, NULL);
  }
  return e;
}

ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  int e = read_fault(fd);
  if (e) return errno = e, -1;
  return real_pread(fd, buf, n, off);
}

ssize_t pread64(int fd, void* buf, size_t n, off_t off) {
  int e = read_fault(fd);
  if (e) return errno = e, -1;
  return real_pread64(fd, buf, n, off);
}

int fsync(int fd) {
  int e = should_fail(OP_FSYNC, fd, NULL);
  if (e) return errno = e, -1;
  return real_fsync(fd);
}

int fdatasync(int fd) {
  int e = should_fail(OP_FSYNC, fd, NULL);
  if (e) return errno = e, -1;
  return real_fdatasync(fd);
}

/* ------------------------------------------------------------ the clock */

static long long current_offset_ns(void) {
  if (!clock_file.path) return 0;
  pthread_mutex_lock(&mu);
  if (changed(&clock_file)) {
    char buf[64];
    offset_ns = read_small(clock_file.path, buf, sizeof buf) ? (long long)(strtod(buf, NULL) * 1e9) : 0;
  }
  long long off = offset_ns;
  pthread_mutex_unlock(&mu);
  return off;
}

static void shift(struct timespec* ts, long long ns) {
  long long t = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + ns;
  ts->tv_sec = (time_t)(t / 1000000000LL);
  ts->tv_nsec = (long)(t % 1000000000LL);
  if (ts->tv_nsec < 0) {
    ts->tv_nsec += 1000000000L;
    ts->tv_sec -= 1;
  }
}

int clock_gettime(clockid_t clk, struct timespec* ts) {
  int r = real_clock_gettime(clk, ts);
  if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE) && clock_file.path)
    shift(ts, current_offset_ns());
  return r;
}

int gettimeofday(struct timeval* restrict tv, void* restrict tz) {
  (void)tz;
  struct timespec ts;
  int r = clock_gettime(CLOCK_REALTIME, &ts);
  if (r == 0) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return r;
}

time_t time(time_t* out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}
