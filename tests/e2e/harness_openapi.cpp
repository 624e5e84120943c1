// harness_openapi.cpp: holds every answer of every end-to-end test to the
// OpenAPI document. ~ServerProc reads the server's access log and fails the
// running test for any (method, route, status) that the document does not
// list, so a handler cannot answer a new status without documenting it.
#include <sstream>

#include "harness.hpp"
#include "routes.hpp"

namespace e2e {

std::vector<std::string> undocumented_answers(const std::string& log) {
  static const json doc = mlgate::openapi_document(MLGATE_VERSION);
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"msg\":\"request\"") == std::string::npos) continue;
    if (line.size() > 3 && line[0] == '<' && line[2] == '>') line.erase(0, 3);  // journal priority
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j["route"].is_string() || j["route"] == "-") continue;  // no route
    std::string method = j["method"], route = j["route"], status = std::to_string(j["status"].get<int>());
    std::string m = method;
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const json* op = nullptr;
    if (doc["paths"].contains(route) && doc["paths"][route].contains(m)) op = &doc["paths"][route][m];
    if (!op || !(*op)["responses"].contains(status))
      out.push_back(method + " " + route + " " + status);
  }
  return out;
}

}  // namespace e2e
