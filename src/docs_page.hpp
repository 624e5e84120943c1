// docs_page.hpp: GET /docs, the API as one self-contained HTML page.
//
// Contract: the page is rendered from the OpenAPI document (itself built
// from the route table), so it lists exactly the routes, parameters and
// answers the document does. It loads nothing from anywhere (no CDN, no
// external script, style or font): its one script and one style sheet are
// inline and allowed by hash in `csp`, and the script only talks to the
// server that served the page. The key typed into its form is sent in the
// X-API-Key header and kept nowhere (no storage, no URL).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace mlgate {

struct DocsPage {
  std::string html;
  std::string csp;  // the Content-Security-Policy header value to serve it with
};

DocsPage docs_page(const nlohmann::json& openapi);

// Text made safe for HTML element content and double-quoted attributes.
std::string html_escape(std::string_view s);

}  // namespace mlgate
