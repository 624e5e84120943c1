// Fuzz target: who the client is, from the peer address, an X-Forwarded-For
// value and the list of trusted proxies (resolve_client).
// Input: lines: the peer address as the socket gives it (an IPv6 zone
// allowed), the X-Forwarded-For value, then one --trusted-proxy CIDR a line
// (lines that do not parse are left out, as the server refuses to start
// with them).
// Properties:
// - the client is the peer itself or one element of the header, never
//   anything else;
// - an untrusted peer is always the client, whatever the header says;
// - behind a trusted peer, the client is the right-most element that is
//   not a trusted proxy, or the left-most when all are (checked against an
//   independent reading of the header);
// - a header that is malformed in any part is ignored as a whole.
// fuzz-dict: ip
#include <string>
#include <vector>

#include "client_address.hpp"
#include "fuzz_check.hpp"

namespace {

using mlgate::CidrRange;
using mlgate::IpAddress;

bool trusted(const IpAddress& a, const std::vector<CidrRange>& ranges) {
  for (const auto& r : ranges)
    if (r.contains(a)) return true;
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every element, or nothing when any part is malformed or it is too long.
std::optional<std::vector<IpAddress>> elements(std::string_view xff) {
  if (xff.size() > mlgate::kMaxForwardedBytes || trim(xff).empty()) return std::nullopt;
  std::vector<IpAddress> out;
  for (;;) {
    const auto [item, rest] = fuzz::split(xff, ',');
    const auto a = IpAddress::parse(trim(item));
    if (!a) return std::nullopt;
    out.push_back(*a);
    if (item.size() == xff.size()) break;  // no comma left
    xff = rest;
  }
  if (out.size() > mlgate::kMaxForwardedElements) return std::nullopt;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [peer_text, rest] = fuzz::split(fuzz::as_text(data, size), '\n');
  auto [xff, lists] = fuzz::split(rest, '\n');
  std::vector<CidrRange> ranges;
  while (!lists.empty()) {
    const auto [line, more] = fuzz::split(lists, '\n');
    if (auto r = CidrRange::parse(line)) ranges.push_back(*r.range);
    lists = more;
  }

  const auto client = mlgate::resolve_client(peer_text, xff, ranges);
  const auto peer = IpAddress::parse(peer_text.substr(0, peer_text.find('%')));
  FUZZ_CHECK(client.has_value() == peer.has_value());
  if (!peer) return 0;

  IpAddress want = *peer;
  if (trusted(*peer, ranges)) {
    if (const auto chain = elements(xff)) {
      want = chain->front();
      for (auto it = chain->rbegin(); it != chain->rend(); ++it)
        if (!trusted(*it, ranges)) {
          want = *it;
          break;
        }
    }
  }
  FUZZ_CHECK(*client == want);
  // The overload on a parsed peer answers the same.
  FUZZ_CHECK(mlgate::resolve_client(*peer, xff, ranges) == want);
  return 0;
}
