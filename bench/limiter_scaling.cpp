// Two-thread scaling of the rate limiter without Google Benchmark's harness:
// plain threads, each making the same number of decisions over its own
// clients, started together after every thread has inserted its clients.
//   build-bench/bench/limiter_scaling [RATE] [CLIENTS] [CAPACITY] [DECISIONS]
//   (defaults: 1000000/s 65536 100000 20000000)
// For each of three rounds it prints ns a decision on one thread, then per
// thread for two threads sharing one limiter (what the server does) and for
// two threads with a limiter each (the no-sharing ceiling), and the speed-up
// of each two-thread case over one thread. "5/min" makes nearly every
// decision a refusal (reads only); "1000000/s" makes every one allowed (a
// compare-and-swap of the client's TAT).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client_address.hpp"
#include "rate_limiter.hpp"

using namespace mlgate;

namespace {

struct Params {
  RatePolicy policy;
  size_t clients = 65536;
  size_t capacity = 100'000;
  long decisions = 20'000'000;
};

std::vector<std::string> client_keys(size_t first, size_t count) {
  std::vector<std::string> keys;
  for (size_t i = first; i < first + count; ++i)
    keys.push_back(limiter_key(IpAddress::from_v4(
        {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)})));
  return keys;
}

// ns a decision for the slowest of `threads` threads; `shared` gives them
// one limiter, else one each.
double run(const Params& p, int threads, bool shared) {
  LimiterOptions options;
  options.capacity = p.capacity;
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  for (int i = 0; i < (shared ? 1 : threads); ++i)
    limiters.push_back(std::make_unique<RateLimiter>(std::vector<RatePolicy>{p.policy}, options));
  std::atomic<int> ready{0};
  std::vector<double> ns(threads);
  {
    std::vector<std::jthread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        RateLimiter& lim = *limiters[shared ? 0 : t];
        const size_t share = p.clients / threads;
        const auto keys = client_keys(share * t, share);
        int64_t now = 1;
        for (const auto& k : keys) lim.decide(0, k, now);  // first sight: inserts
        ready.fetch_add(1);
        while (ready.load() < threads) {
        }
        size_t allowed = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (long i = 0; i < p.decisions; ++i) {
          now += 1000;
          allowed += lim.decide(0, keys[static_cast<size_t>(i) % share], now).allowed;
        }
        const std::chrono::duration<double, std::nano> d = std::chrono::steady_clock::now() - t0;
        ns[t] = d.count() / static_cast<double>(p.decisions);
        if (allowed == 1) std::puts("");  // keeps the loop's result alive
      });
  }
  return *std::max_element(ns.begin(), ns.end());
}

}  // namespace

int main(int argc, char** argv) {
  const char* rate = argc > 1 ? argv[1] : "1000000/s";
  auto parsed = parse_rate(rate, "bench");
  if (!parsed) {
    std::fprintf(stderr, "%s\n", parsed.error.c_str());
    return 2;
  }
  Params p{*parsed.policy};
  if (argc > 2) p.clients = std::strtoul(argv[2], nullptr, 10);
  if (argc > 3) p.capacity = std::strtoul(argv[3], nullptr, 10);
  if (argc > 4) p.decisions = std::strtol(argv[4], nullptr, 10);
  if (p.clients < 2 || p.decisions < 1) {
    std::fprintf(stderr, "need at least 2 clients and 1 decision\n");
    return 2;
  }
  std::printf("%s, %zu clients, table of %zu, %ld decisions a thread\n", rate, p.clients,
              p.capacity, p.decisions);
  for (int round = 0; round < 3; ++round) {
    const double one = run(p, 1, true), shared = run(p, 2, true), separate = run(p, 2, false);
    std::printf("1 thread %.1f ns | 2 threads, one limiter %.1f ns each (%.2fx) | "
                "2 threads, a limiter each %.1f ns each (%.2fx)\n",
                one, shared, 2 * one / shared, separate, 2 * one / separate);
  }
}
