#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "log.hpp"

using mlgate::append_json_string;

TEST_CASE("append_json_string: any bytes give an ASCII literal that parses back") {
  const std::string inputs[] = {"",
                                "plain",
                                "quote\" back\\slash",
                                std::string("nul\0ctl\x1f\x7f", 10),
                                "\xff\xfe invalid UTF-8",
                                "new\nline\ttab",
                                "caf\xc3\xa9"};
  for (const std::string& in : inputs) {
    std::string out = "x";
    append_json_string(out, in);
    CAPTURE(out);
    CHECK(out.front() == 'x');  // appends
    for (unsigned char c : out) CHECK((c >= 0x20 && c < 0x7f));
    auto j = nlohmann::json::parse(out.substr(1));
    REQUIRE(j.is_string());
    // ASCII comes back unchanged; a byte >= 0x80 comes back as U+00XX.
    std::string expect;
    for (unsigned char c : in) {
      if (c < 0x80) {
        expect.push_back(static_cast<char>(c));
      } else {
        expect.push_back(static_cast<char>(0xc0 | (c >> 6)));
        expect.push_back(static_cast<char>(0x80 | (c & 0x3f)));
      }
    }
    CHECK(j.get<std::string>() == expect);
  }
}
