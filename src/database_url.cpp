#include "database_url.hpp"

namespace mlgate {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// user:password@ in the authority, and password=... among the parameters,
// each become ***.
std::string redact_pg(std::string_view url) {
  std::string out(url);
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t end = out.find_first_of("/?", start);
    const size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p > 0 && out[p - 1] != '?' && out[p - 1] != '&') continue;
    const size_t v = p + 9, e = out.find('&', v);
    out.replace(v, (e == std::string::npos ? out.size() : e) - v, "***");
  }
  return out;
}

bool no_control_chars(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string DatabaseTarget::redacted() const {
  return kind == Sqlite ? "sqlite://" + path : redact_pg(url);
}

DatabaseUrlParse parse_database_url(std::string_view url) {
  DatabaseUrlParse r;
  if (!no_control_chars(url)) {
    r.error = "expected sqlite:///PATH or postgresql://...; the value holds control characters";
    return r;
  }
  if (starts_with(url, "sqlite://")) {
    std::string_view path = url.substr(9);
    if (path.empty() || path == "/") {
      r.error = "sqlite:// needs a file path (sqlite:///var/lib/mlgate/mlgate.db)";
      return r;
    }
    if (path.find('?') != std::string_view::npos) {
      r.error = "sqlite:// takes a file path and no parameters";
      return r;
    }
    r.target = DatabaseTarget{DatabaseTarget::Sqlite, std::string(path), ""};
    return r;
  }
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://")) {
    r.target = DatabaseTarget{DatabaseTarget::Postgres, "", std::string(url)};
    return r;
  }
  const size_t colon = url.find("://");
  r.error = colon == std::string_view::npos
                ? "expected sqlite:///PATH or postgresql://USER@HOST/DBNAME"
                : "unknown database scheme \"" + std::string(url.substr(0, std::min<size_t>(colon, 20))) +
                      "\": expected sqlite:// or postgresql://";
  return r;
}

}  // namespace mlgate
