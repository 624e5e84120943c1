// model_factory.cpp: builds the model a configuration names.
#include "exec_model.hpp"
#include "sentiment.hpp"
#include "server.hpp"

namespace mlgate {
namespace {

// The built-in VADER model behind the Model interface: immutable, so every
// worker shares it without a lock.
class SentimentAdapter final : public Model {
 public:
  explicit SentimentAdapter(const SentimentModel* shared) : m_(*shared) {}
  explicit SentimentAdapter(std::unique_ptr<SentimentModel> owned)
      : owned_(std::move(owned)), m_(*owned_) {}

  std::string_view name() const override { return "sentiment"; }

  Prediction predict(std::string_view text, std::stop_token) override {
    SentimentScores s = m_.score(text);
    return {std::string(SentimentModel::label(s.compound)), s.compound,
            nlohmann::json{{"neg", s.neg}, {"neu", s.neu}, {"pos", s.pos},
                           {"compound", s.compound}}};
  }

 private:
  std::unique_ptr<SentimentModel> owned_;
  const SentimentModel& m_;
};

}  // namespace

std::unique_ptr<Model> make_model(const Config& cfg) {
  if (cfg.model == "exec") {
    try {
      return std::make_unique<ExecModel>(ExecOptions{cfg.exec_command, cfg.exec_timeout_ms});
    } catch (const std::exception& e) {
      throw StartupError(std::string("cannot start the exec model: ") + e.what());
    }
  }
  if (cfg.lexicon.empty()) return std::make_unique<SentimentAdapter>(&SentimentModel::builtin());
  try {
    return std::make_unique<SentimentAdapter>(
        std::make_unique<SentimentModel>(SentimentModel::from_lexicon_file(cfg.lexicon)));
  } catch (const std::exception& e) {
    // The file the configuration names is not a lexicon: a bad value.
    throw ConfigError(std::string("--lexicon: ") + e.what());
  }
}

}  // namespace mlgate
