#include "data_owner.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mlgate {

std::string act_as_data_owner(const std::string& dir) {
  if (::geteuid() != 0) return "";
  struct stat d {};
  if (::stat(dir.c_str(), &d) != 0 || !S_ISDIR(d.st_mode)) return "";
  // Every database file must already belong to the directory's owner; a
  // root-owned one among them cannot be repaired by switching users.
  for (const char* f : {"/mlgate.db", "/mlgate.db-wal", "/mlgate.db-shm"}) {
    struct stat st {};
    if (::stat((dir + f).c_str(), &st) == 0 && st.st_uid != d.st_uid)
      throw std::runtime_error(dir + f + " and its directory have different owners; repair with "
                               "chown -R --reference=" + dir + " " + dir);
  }
  if (d.st_uid == 0) return "";
  const passwd* pw = ::getpwuid(d.st_uid);
  std::string name = pw ? pw->pw_name : std::to_string(d.st_uid);
  // Groups first: once the uid is dropped, they can no longer be changed.
  int rc = pw ? ::initgroups(pw->pw_name, d.st_gid) : ::setgroups(1, &d.st_gid);
  if (rc != 0 || ::setgid(d.st_gid) != 0 || ::setuid(d.st_uid) != 0)
    throw std::runtime_error("cannot switch to " + name + ", the owner of " + dir + ": " +
                             std::strerror(errno));
  return name;
}

}  // namespace mlgate
