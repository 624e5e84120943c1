// http_framing.cpp: see http_framing.hpp.
#include "http_framing.hpp"

#include <strings.h>

#include <memory>

namespace mlgate {
namespace {

bool is(const std::string& name, std::string_view want) {
  return name.size() == want.size() && strncasecmp(name.data(), want.data(), want.size()) == 0;
}

}  // namespace

RequestView request_view(const httplib::Request& req) {
  RequestView v;
  v.method = req.method;
  v.path = req.path;
  v.peer = req.remote_addr;
  bool ct = false, expect = false, auth = false;
  // Headers is a multimap: fields of one name come in the order received,
  // so the first seen is the first value, as get_header_value() gives it.
  for (const auto& [name, value] : req.headers) {
    switch (name.size()) {
      case 6:
        if (is(name, "Expect") && !expect) expect = true, v.expect = value;
        else if (is(name, "Origin") && !v.origin) v.origin = value;
        break;
      case 9:
        if (is(name, "X-API-Key") && !v.api_key) v.api_key = value;
        break;
      case 12:
        if (is(name, "Content-Type") && !ct) ct = true, v.content_type = value;
        break;
      case 13:
        if (is(name, "Authorization") && !auth) auth = true, v.authorization = value;
        break;
      case 14:
        if (is(name, "Content-Length") && v.content_length_count++ == 0) v.content_length = value;
        break;
      case 15:
        if (is(name, "X-Forwarded-For")) v.forwarded_for.push_back(value);
        break;
      case 16:
        if (is(name, "Content-Encoding")) v.content_encoding = true;
        break;
      case 17:
        if (is(name, "Transfer-Encoding")) v.transfer_encoding = true;
        break;
      default:
        break;
    }
  }
  return v;
}

void set_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void set_detail(httplib::Response& res, int status, std::string_view detail) {
  set_json(res, status, nlohmann::json{{"detail", detail}});
}

void set_headers(httplib::Response& res, const HeaderList& headers) {
  for (const auto& [name, value] : headers) res.set_header(name, value);
}

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Request body too large";
    case 414: return "Request URI too long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request header fields too large";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Bad Request" : "Internal error";
  }
}

void close_after(httplib::Response& res) {
  std::string body = std::move(res.body);
  res.body.clear();
  // set_content_provider adds its own Content-Type; set_header appends.
  res.headers.erase("Content-Type");
  res.headers.erase("Connection");
  res.set_header("Connection", "close");
  auto shared = std::make_shared<std::string>(std::move(body));
  res.set_content_provider(
      shared->size(), "application/json",
      [shared](size_t offset, size_t, httplib::DataSink& sink) {
        sink.write(shared->data() + offset, shared->size() - offset);
        return false;  // "failed": the library drops the connection
      });
}

}  // namespace mlgate
