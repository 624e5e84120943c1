// sqlite_limiter_state.hpp: the embedded limiter's saved table, kept in the
// `limiter_state` row of the SQLite data file. Writes go through the file's
// single writer (sqlite_writer.hpp, one writer per file); reads open a short-lived
// read-only connection (start-up only).
#pragma once

#include <string>

#include "sqlite_writer.hpp"
#include "limiter_state.hpp"

namespace mlgate {

class SqliteLimiterState final : public LimiterStateStore {
 public:
  SqliteLimiterState(std::string db_path, SqliteWriter& writer)
      : db_path_(std::move(db_path)), writer_(writer) {}
  std::optional<std::string> load_limiter_state() override;
  void save_limiter_state(std::string_view blob) override;

 private:
  std::string db_path_;
  SqliteWriter& writer_;
};

}  // namespace mlgate
