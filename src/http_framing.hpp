// http_framing.hpp: what the server does with cpp-httplib's request and
// response types, kept out of the gate and the handlers: the request view
// the gate reads, JSON and {"detail": ...} answers, and closing a
// connection after a refusal whose body was not read.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string_view>

#include "cors.hpp"
#include "security.hpp"

namespace mlgate {

// The fields of `req` the gate reads (views into `req`, valid while it is).
// One pass over the headers.
RequestView request_view(const httplib::Request& req);

void set_json(httplib::Response& res, int status, const nlohmann::json& body);
void set_detail(httplib::Response& res, int status, std::string_view detail);
void set_headers(httplib::Response& res, const HeaderList& headers);

// The detail text of an error the library made itself (400 bad request
// line, 413, 414, 416, ...).
const char* status_text(int status);

// A refusal sent before the body was read: the unread body must never be
// parsed as the next request on this connection (request smuggling). The
// response body goes out through a content provider that reports failure
// once it has written everything, which makes the library close the
// connection right after this response.
void close_after(httplib::Response& res);

}  // namespace mlgate
