#include "docs_page.hpp"

#include <openssl/evp.h>

#include "api_key.hpp"

namespace mlgate {
namespace {

using json = nlohmann::json;

constexpr const char* kStyle = R"css(
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h3 { margin: 1.6rem 0 .3rem; font-size: 1.1rem; }
code, pre, .m { font-family: ui-monospace, monospace; }
.m { display: inline-block; min-width: 4.5em; font-weight: bold; }
.GET { color: #0b6b2f; } .POST { color: #8a4b00; } .DELETE { color: #a11; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .2rem .5rem; border-bottom: 1px solid #ddd; }
th { background: #f4f4f6; }
form { display: grid; grid-template-columns: 8rem 1fr; gap: .4rem .8rem; align-items: center;
       background: #f4f4f6; padding: .8rem; border-radius: 6px; }
form textarea { min-height: 4rem; }
form button { grid-column: 2; justify-self: start; padding: .3rem 1.2rem; }
pre { background: #1d1d1f; color: #f4f4f6; padding: .7rem; overflow: auto; min-height: 2rem; }
.note { color: #555; }
)css";

// The form's script. It follows a 202's Location until the job finishes,
// honours Retry-After on 429 and 503, and sets #state to "done" at the end
// (the browser test waits for that).
constexpr const char* kScript = R"js(
"use strict";
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const finished = (j) => j && ["completed", "failed", "canceled"].includes(j.status);

async function show(res) {
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { /* not JSON: shown as text */ }
  $("status").textContent = res.status + " " + res.statusText;
  $("response").textContent = body === null ? text : JSON.stringify(body, null, 2);
  return body;
}

async function send(method, path, key, init) {
  const headers = Object.assign({}, init.headers || {});
  if (key) headers["X-API-Key"] = key;
  for (let tries = 0; ; tries++) {
    const res = await fetch(path, Object.assign({}, init, { method, headers }));
    const wait = Number(res.headers.get("Retry-After"));
    if ((res.status === 429 || res.status === 503) && wait > 0 && wait <= 60 && tries < 3) {
      $("state").textContent = "answered " + res.status + "; retrying in " + wait + " s";
      await sleep(wait * 1000);
      continue;
    }
    return res;
  }
}

$("try-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const [method, template] = $("op").value.split(" ");
  const key = $("key").value.trim();
  let path = template.replace("{job_uuid}", encodeURIComponent($("job_uuid").value.trim()));
  const query = $("query").value.trim().replace(/^\?/, "");
  if (query) path += "?" + query;
  const init = { headers: {} };
  if (method === "POST") {
    init.headers["Content-Type"] = "application/json";
    const prefer = $("prefer").value.trim();
    if (prefer) init.headers["Prefer"] = prefer;
    init.body = $("body").value;
  }
  $("state").textContent = "sending";
  try {
    let res = await send(method, path, key, init);
    let body = await show(res);
    const location = res.headers.get("Location");
    // A queued job: poll it until it finishes.
    while (method === "POST" && location && res.status < 300 && !finished(body)) {
      $("state").textContent = "job " + (body && body.status) + "; polling " + location;
      await sleep(300);
      res = await send("GET", location, key, {});
      body = await show(res);
      if (res.status !== 200) break;
    }
    $("state").textContent = "done";
  } catch (e) {
    $("status").textContent = "request failed";
    $("response").textContent = String(e);
    $("state").textContent = "done";
  }
});

$("op").addEventListener("change", () => {
  const post = $("op").value.startsWith("POST ");
  $("body").disabled = !post;
  $("prefer").disabled = !post;
  $("job_uuid").disabled = !$("op").value.includes("{job_uuid}");
});
$("op").dispatchEvent(new Event("change"));
)js";

std::string csp_hash(std::string_view text) {
  KeyHash h = sha256(text);
  unsigned char b64[64] = {};
  EVP_EncodeBlock(b64, h.data(), static_cast<int>(h.size()));
  return "'sha256-" + std::string(reinterpret_cast<const char*>(b64)) + "'";
}

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The schema as a short phrase: "integer, 1 to 100, default 20".
std::string describe_schema(const json& s) {
  std::string out = text_of(s, "type");
  if (s.contains("enum")) {
    out += ": ";
    for (size_t i = 0; i < s["enum"].size(); ++i) out += (i ? ", " : "") + s["enum"][i].get<std::string>();
  }
  if (s.contains("minimum") && s.contains("maximum"))
    out += ", " + s["minimum"].dump() + " to " + s["maximum"].dump();
  if (s.contains("maxLength")) out += ", at most " + s["maxLength"].dump() + " characters";
  if (s.contains("default")) out += ", default " + s["default"].dump();
  return out;
}

void operation_html(std::string& o, const std::string& method, const std::string& path,
                    const json& op) {
  o += "<article id=\"" + html_escape(text_of(op, "operationId")) + "\"><h3><span class=\"m " +
       method + "\">" + method + "</span> <code>" + html_escape(path) + "</code></h3>\n<p>" +
       html_escape(text_of(op, "summary")) + ". <span class=\"note\">" +
       html_escape(text_of(op, "description")) + "</span></p>\n";
  if (op.contains("parameters")) {
    o += "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Meaning</th></tr>\n";
    for (const json& p : op["parameters"])
      o += "<tr><td><code>" + html_escape(text_of(p, "name")) + "</code></td><td>" +
           html_escape(text_of(p, "in")) + "</td><td>" + html_escape(describe_schema(p["schema"])) +
           "</td><td>" + html_escape(text_of(p, "description")) + "</td></tr>\n";
    o += "</table>\n";
  }
  if (op.contains("requestBody"))
    o += "<p>Body: <code>application/json</code>, <code>{\"text\": \"...\"}</code> "
         "(10 to 5000 characters; other fields are ignored).</p>\n";
  o += "<table><tr><th>Answer</th><th>When</th><th>Headers</th></tr>\n";
  for (const auto& [status, r] : op["responses"].items()) {
    std::string hs;
    for (const auto& [h, _] : r["headers"].items())
      if (h != "X-Request-Id") hs += (hs.empty() ? "" : ", ") + h;
    o += "<tr><td>" + html_escape(status) + "</td><td>" + html_escape(text_of(r, "description")) +
         "</td><td>" + html_escape(hs) + "</td></tr>\n";
  }
  o += "</table></article>\n";
}

// Calls f(METHOD, path, operation) for each operation of the document, in
// path order.
template <class F>
void for_each_operation(const json& doc, F&& f) {
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      f(m, path, op);
    }
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

DocsPage docs_page(const json& doc) {
  const std::string version = doc["info"]["version"].get<std::string>();
  std::string o;
  o.reserve(32 * 1024);
  o += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<title>mlgate " + html_escape(version) + " API</title>\n<style>" + kStyle +
       "</style></head><body>\n<h1>mlgate " + html_escape(version) + "</h1>\n<p>" +
       html_escape(text_of(doc["info"], "description")) +
       "</p>\n<p>Keys go in <code>X-API-Key</code> or <code>Authorization: Bearer</code>. "
       "The same description for programs: <a href=\"/openapi.json\">/openapi.json</a>. "
       "Every answer carries <code>X-Request-Id</code>.</p>\n";

  // The form, first: what most readers came for.
  o += "<h2>Try a call</h2>\n<form id=\"try-form\">\n"
       "<label for=\"key\">API key</label><input id=\"key\" type=\"password\" autocomplete=\"off\" "
       "placeholder=\"mlg_... (kept nowhere)\">\n"
       "<label for=\"op\">Route</label><select id=\"op\">\n";
  for_each_operation(doc, [&](const std::string& method, const std::string& path, const json& op) {
    std::string value = method + " " + path;
    o += "<option value=\"" + html_escape(value) + "\"" +
         (value == "POST /predict" ? " selected" : "") + ">" + html_escape(value) + " - " +
         html_escape(text_of(op, "summary")) + "</option>\n";
  });
  o += "</select>\n"
       "<label for=\"job_uuid\">job_uuid</label><input id=\"job_uuid\" autocomplete=\"off\">\n"
       "<label for=\"query\">Query</label><input id=\"query\" placeholder=\"status=completed&amp;limit=20\">\n"
       "<label for=\"prefer\">Prefer</label><input id=\"prefer\" value=\"wait=5\">\n"
       "<label for=\"body\">Body</label><textarea id=\"body\">"
       "{\"text\": \"The staff were friendly and helpful\"}</textarea>\n"
       "<button type=\"submit\" id=\"send\">Send</button>\n</form>\n"
       "<p>Answer: <output id=\"status\"></output> <span id=\"state\" class=\"note\"></span></p>\n"
       "<pre id=\"response\"></pre>\n<h2>Routes</h2>\n";
  for_each_operation(doc, [&](const std::string& method, const std::string& path, const json& op) {
    operation_html(o, method, path, op);
  });
  o += "<script>" + std::string(kScript) + "</script>\n</body></html>\n";

  DocsPage page;
  page.html = std::move(o);
  page.csp = "default-src 'none'; script-src " + csp_hash(kScript) + "; style-src " +
             csp_hash(kStyle) +
             "; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";
  return page;
}

}  // namespace mlgate
