// job_store.cpp: what every JobStore implementation shares (job_store.hpp).
#include "job_store.hpp"

#include "api_key.hpp"
#include "clock.hpp"

namespace mlgate {

nlohmann::json job_to_json(const Job& j) {
  using nlohmann::json;
  auto opt_time = [](const std::optional<int64_t>& t) {
    return t ? json(rfc3339(*t)) : json(nullptr);
  };
  json result = nullptr;
  if (j.result) result = json::parse(*j.result, nullptr, false);
  if (result.is_discarded()) result = nullptr;
  return json{{"job_uuid", j.uuid},
              {"status", to_string(j.status)},
              {"result_label", j.result_label ? json(*j.result_label) : json(nullptr)},
              {"result_score", j.result_score ? json(*j.result_score) : json(nullptr)},
              {"result", result},
              {"error", j.error ? json(*j.error) : json(nullptr)},
              {"attempts", j.attempts},
              {"created_at", rfc3339(j.created_at)},
              {"started_at", opt_time(j.started_at)},
              {"finished_at", opt_time(j.finished_at)}};
}

// UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.
// Time-ordered ids append to the uuid index instead of landing on a random
// page of it, so a group commit dirties a few pages, not one per job. The
// id reveals its creation time, which the job object shows anyway; a job
// is protected by its owner check, not by the id being unguessable.
std::string new_job_uuid(int64_t now_ms) {
  uint8_t b[16];
  const auto ms = static_cast<uint64_t>(now_ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  random_bytes(b + 6, 10);
  b[6] = (b[6] & 0x0f) | 0x70;  // version 7
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 9562 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

}  // namespace mlgate
