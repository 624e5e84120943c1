// Fuzz target: `mlgate serve`'s configuration: flags, environment values
// and the JSON config file, together (parse_serve_config).
// Input: three sections separated by NUL bytes: the config file's bytes
// (absent when empty), environment lines NAME=VALUE, and arguments, one
// a line. The target names the file itself (--config on a memfd); a
// --config or MLGATE_CONFIG in the input is dropped, so no input makes the
// target read another file.
// Properties:
// - every accepted configuration keeps the ranges the options promise
//   (port 0-65535, workers 1-256, ...), and their cross-checks (TLS
//   certificate and key together; --model exec with a command);
// - a refusal is one line of printable text (it goes to standard error as
//   the one line DESIGN.md promises);
// - round trip: an accepted configuration written back as a config file
//   (every option as a JSON value) and read alone gives the same values.
// fuzz-dict: json config
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "fuzz_check.hpp"

namespace {

using mlgate::Config;
using nlohmann::json;

// A file only this process sees, rewritten for each input.
struct MemFile {
  int fd = memfd_create("mlgate-fuzz-config", MFD_CLOEXEC);
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  void write(std::string_view bytes) {
    FUZZ_CHECK(fd >= 0 && ftruncate(fd, 0) == 0);
    FUZZ_CHECK(pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  }
};

bool one_printable_line(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// The configuration as `serve --dry-run` prints it: every option, as a
// config file names it. Parsing that file back must give the same text.
json as_file(const Config& c) { return json::parse(mlgate::config_to_json(c)); }

void check_ranges(const Config& c) {
  FUZZ_CHECK(c.port >= 0 && c.port <= 65535);
  FUZZ_CHECK(c.workers >= 1 && c.workers <= 256);
  FUZZ_CHECK(c.ipv6_prefix >= 1 && c.ipv6_prefix <= 128);
  FUZZ_CHECK(c.limit_table_size >= 1024 && c.limit_table_size <= 100'000'000);
  FUZZ_CHECK(c.max_body_bytes >= 1024 && c.max_body_bytes <= (16u << 20));
  FUZZ_CHECK(c.max_connections >= 4 && c.max_connections <= 65536);
  FUZZ_CHECK(c.keep_alive_timeout_s >= 1 && c.keep_alive_timeout_s <= 3600);
  FUZZ_CHECK(c.queue_max >= 1 && c.queue_max <= 100'000'000);
  FUZZ_CHECK(c.max_attempts >= 1 && c.max_attempts <= 100);
  FUZZ_CHECK(c.retention_ms >= 0 && c.shutdown_grace_ms >= 0 && c.exec_timeout_ms >= 0);
  // Every duration option but the Redis ones is parsed into whole units of
  // at least a second.
  for (int64_t ms : {c.retention_ms, c.shutdown_grace_ms, c.exec_timeout_ms, c.head_timeout_ms,
                     c.body_timeout_ms})
    FUZZ_CHECK(ms % 1000 == 0);
  FUZZ_CHECK(c.model == "sentiment" || c.model == "exec");
  FUZZ_CHECK(c.model != "exec" || !c.exec_command.empty());
  FUZZ_CHECK(c.tls_cert.empty() == c.tls_key.empty());
  FUZZ_CHECK(!c.data_dir.empty());
  FUZZ_CHECK(c.tiers.count("free") && c.tiers.count("premium"));
  for (auto& [name, rate] : c.tiers) FUZZ_CHECK(!name.empty() && name.find('=') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemFile file, again_file;
  const auto [file_text, rest] = fuzz::split(fuzz::as_text(data, size), '\0');
  const auto [env_text, args_text] = fuzz::split(rest, '\0');

  std::map<std::string, std::string> env;
  for (std::string_view lines = env_text; !lines.empty();) {
    const auto [line, more] = fuzz::split(lines, '\n');
    const auto [name, value] = fuzz::split(line, '=');
    if (name != "MLGATE_CONFIG") env[std::string(name)] = std::string(value);
    lines = more;
  }
  // No argument or environment value holds a NUL (C strings): a NUL past
  // the second one ends an argument like a newline.
  std::vector<std::string> args;
  for (std::string_view lines = args_text; !lines.empty();) {
    const size_t end = std::min(lines.find('\n'), lines.find('\0'));
    const std::string_view line = lines.substr(0, end);
    if (line.substr(0, 8) != "--config") args.emplace_back(line);
    lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 1);
  }
  if (!file_text.empty()) {
    file.write(file_text);
    args.insert(args.begin(), {"--config", file.path});
  }
  const mlgate::EnvLookup lookup = [&](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };

  const mlgate::ConfigResult r = mlgate::parse_serve_config(args, lookup);
  if (!r.config) {
    FUZZ_CHECK(one_printable_line(r.error));
    return 0;
  }
  const Config& c = *r.config;
  check_ranges(c);

  // Round trip through a config file. JSON holds UTF-8 only, and a value
  // from a flag or the environment may be any bytes: those are skipped.
  std::string text;
  try {
    text = as_file(c).dump();
  } catch (const json::type_error&) {
    return 0;
  }
  again_file.write(text);
  const mlgate::ConfigResult back = mlgate::parse_serve_config(
      {"--config", again_file.path}, [](const std::string&) { return std::nullopt; });
  FUZZ_CHECK(back.config);
  FUZZ_CHECK(as_file(*back.config) == as_file(c));
  return 0;
}
