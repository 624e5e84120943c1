// model.hpp: what the job workers call. A model maps one UTF-8 text to a
// label, a score and a detail object.
//
// Contract: predict() is called concurrently from every worker thread, so an
// implementation is either immutable after construction (the built-in
// sentiment model) or serialises internally (the exec plug-in). It throws
// ModelError for a failure that belongs to this job (the job is retried or
// marked failed with the message); it never terminates the process.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>

namespace mlgate {

struct Prediction {
  std::string label;      // e.g. "positive"
  double score = 0.0;     // e.g. the compound score in [-1, 1]
  nlohmann::json detail;  // e.g. {"neg","neu","pos","compound"}
};

struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string_view name() const = 0;
  // `stop` is requested when the job is canceled or the server is stopping;
  // a long-running model should give up early and throw ModelError.
  virtual Prediction predict(std::string_view text, std::stop_token stop) = 0;
};

}  // namespace mlgate
