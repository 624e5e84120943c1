// Unit tests for docs_page.cpp: the /docs page is the OpenAPI document as
// HTML, self-contained, and its Content-Security-Policy admits exactly its
// own inline script and style.
#include <doctest/doctest.h>
#include <openssl/evp.h>

#include "api_key.hpp"
#include "docs_page.hpp"
#include "routes.hpp"

using namespace mlgate;

namespace {

std::string between(const std::string& s, const std::string& open, const std::string& close) {
  auto a = s.find(open);
  REQUIRE(a != std::string::npos);
  a += open.size();
  auto b = s.find(close, a);
  REQUIRE(b != std::string::npos);
  return s.substr(a, b - a);
}

std::string sha256_b64(const std::string& text) {
  KeyHash h = sha256(text);
  unsigned char out[64] = {};
  EVP_EncodeBlock(out, h.data(), static_cast<int>(h.size()));
  return reinterpret_cast<const char*>(out);
}

}  // namespace

TEST_CASE("the CSP allows the page's own script and style by hash, and nothing else") {
  auto page = docs_page(openapi_document("9.9"));
  std::string script = between(page.html, "<script>", "</script>");
  std::string style = between(page.html, "<style>", "</style>");
  CHECK(page.csp.find("script-src 'sha256-" + sha256_b64(script) + "'") != std::string::npos);
  CHECK(page.csp.find("style-src 'sha256-" + sha256_b64(style) + "'") != std::string::npos);
  CHECK(page.csp.rfind("default-src 'none'", 0) == 0);
  CHECK(page.html.find("<script", page.html.find("</script>")) == std::string::npos);  // one script
}

TEST_CASE("the page lists every route with its answers and parameters, from the document") {
  auto doc = openapi_document("9.9");
  auto page = docs_page(doc);
  CHECK(page.html.find("<title>mlgate 9.9 API</title>") != std::string::npos);
  for (const Route& r : routes()) {
    CAPTURE(r.path);
    std::string article = between(page.html, "<article id=\"" + std::string(r.operation_id) + "\">", "</article>");
    CHECK(article.find(html_escape(r.path)) != std::string::npos);
    for (const RouteAnswer& a : route_answers(r))
      CHECK(article.find("<tr><td>" + std::to_string(a.status) + "</td>") != std::string::npos);
    for (const Param& p : r.params)
      CHECK(article.find("<code>" + std::string(p.name) + "</code>") != std::string::npos);
  }
  // The form offers every route, POST /predict first chosen.
  CHECK(page.html.find("<option value=\"POST /predict\" selected>") != std::string::npos);
}

TEST_CASE("html_escape makes text safe in content and quoted attributes") {
  CHECK(html_escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  CHECK(html_escape("plain /jobs/{job_uuid}") == "plain /jobs/{job_uuid}");
}
