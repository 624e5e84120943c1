// data_owner.hpp: an admin command run as root never leaves files that the
// service cannot open.
//
// The packaged service runs as the system user "mlgate" and owns its data
// directory. Before this, `mlgate keys create --data-dir /var/lib/mlgate`
// run as root rewrote the database as root, and the service then failed
// with "attempt to write a readonly database".
//
// Contract: act_as_data_owner(dir), called before any file of `dir` is
// opened. When the process runs as root and `dir` exists and belongs to
// another user, the process switches for good to that user (its
// supplementary groups, the directory's group, then its uid), so every file
// the command creates or rewrites keeps the service's ownership. Returns
// the name (or number) of the user it switched to, "" when it stayed as it
// was (not root, no directory yet, or a root-owned directory). Throws
// std::runtime_error, with a one-line message that says how to repair it,
// when the database files and the directory have different owners (a root
// command of an older mlgate left them so) or when the switch fails.
#pragma once

#include <string>

namespace mlgate {

std::string act_as_data_owner(const std::string& dir);

}  // namespace mlgate
