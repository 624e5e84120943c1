// Fuzz target: one reply line of an exec model's child (parse_exec_reply),
// which is whatever a user's program writes on its standard output.
// Input: the line. It is judged against the request id 7 and, when the line
// is an object with an unsigned "id", against that id and the next one.
// Properties:
// - a prediction comes only from a JSON object with the request's id, a
//   string label and a finite number score, its detail an object;
//   round trip: the prediction written back as a reply line reads back the
//   same (label, score to the bit, detail);
// - a reply with another id is never a prediction or a model error: the
//   child is out of step;
// - every failure message, which becomes the job's `error` (stored, served
//   in JSON, printed by `mlgate jobs show`), is valid UTF-8 and at most
//   kMaxErrorBytes long, whatever the child wrote;
// - a model error keeps the child's message (cut at 1000 bytes).
// fuzz-dict: json
// fuzz-max-len: 16384
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "exec_model.hpp"
#include "fuzz_check.hpp"
#include "validation.hpp"

namespace {

using mlgate::ExecReply;
constexpr size_t kMaxErrorBytes = 1100;

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    if (!mlgate::next_code_point(s, i, cp)) return false;
  }
  return true;
}

// `id_matches`: the line carries `id` (else it must be out of step).
void check(std::string_view line, uint64_t id, bool id_matches) {
  const ExecReply r = mlgate::parse_exec_reply(line, id);
  if (r.kind != ExecReply::kPrediction) {
    FUZZ_CHECK(!r.message.empty() && r.message.size() <= kMaxErrorBytes);
    FUZZ_CHECK(valid_utf8(r.message));
  }
  if (!id_matches) {
    FUZZ_CHECK(r.kind == ExecReply::kOutOfStep);
    return;
  }
  if (r.kind == ExecReply::kModelError) {
    FUZZ_CHECK(r.message.rfind("model error: ", 0) == 0);
    return;
  }
  if (r.kind != ExecReply::kPrediction) return;
  const auto& p = r.prediction;
  FUZZ_CHECK(std::isfinite(p.score) && p.detail.is_object());
  const auto j = nlohmann::json::parse(line, nullptr, false);
  FUZZ_CHECK(j.is_object() && j.value("id", uint64_t{0}) == id && !j.contains("error"));
  FUZZ_CHECK(j["label"] == p.label);

  const std::string again =
      nlohmann::json{{"id", id}, {"label", p.label}, {"score", p.score}, {"detail", p.detail}}.dump();
  const ExecReply back = mlgate::parse_exec_reply(again, id);
  FUZZ_CHECK(back.kind == ExecReply::kPrediction);
  FUZZ_CHECK(back.prediction.label == p.label && back.prediction.detail == p.detail);
  FUZZ_CHECK(std::signbit(back.prediction.score) == std::signbit(p.score) &&
             back.prediction.score == p.score);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line = fuzz::as_text(data, size);
  const auto j = nlohmann::json::parse(line, nullptr, false);
  uint64_t id = 7;
  bool has_id = false;
  if (j.is_object() && j.contains("id") && j["id"].is_number_unsigned()) {
    id = j["id"].get<uint64_t>();
    has_id = true;
  }
  check(line, id, has_id);
  if (has_id) check(line, id + 1, false);
  return 0;
}
