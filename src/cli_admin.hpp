// cli_admin.hpp: `mlgate keys ...` and `mlgate jobs ...`, run against the
// same SQLite file a server may be using at the same time.
//
// Contract: exit status 0 on success, 1 on a runtime failure, 2 on a usage
// error; every failure writes one line to `err`. `keys create` and
// `keys rotate` write the new key, and nothing else, as the only line on
// `out`, so KEY=$(mlgate keys create --name demo) works in scripts.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace mlgate {

int run_keys(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int run_jobs(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace mlgate
