// The shared limiter's own speed: decisions a second through Redis, and
// their latency, without HTTP. Each thread decides what a keyed request
// needs (per address, failed-key budget as a peek, the key's tier: three
// checks, one EVALSHA) for its own clients, for a fixed time.
//   build-bench/bench/redis_decisions URL [THREADS] [SECONDS] [CLIENTS]
//   (defaults: 1 thread, 5 s, 1000 clients; bench/redis.sh passes a local Redis)
// Prints one line: threads, decisions/s, p50 and p99 in microseconds, and
// how many decisions Redis could not make (should be 0).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "redis_limiter.hpp"

using namespace mlgate;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: redis_decisions URL [THREADS] [SECONDS] [CLIENTS]\n");
    return 2;
  }
  auto url = parse_redis_url(argv[1]);
  if (!url.target) {
    std::fprintf(stderr, "%s\n", url.error.c_str());
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 5;
  const int clients = argc > 4 ? std::atoi(argv[4]) : 1000;
  // Effectively unlimited rates: every decision is allowed and written.
  std::vector<RatePolicy> ps;
  for (auto [rate, name] : {std::pair{"1000000000/s", "ip"}, {"1000000000/s", "auth_fail"},
                            {"1000000000/s", "bench"}})
    ps.push_back(*parse_rate(rate, name).policy);
  RedisLimiterOptions o;
  o.target = *url.target;
  o.prefix = "mlgate-bench:";
  o.command_timeout = std::chrono::milliseconds(1000);  // measure, never give up
  RedisLimiter limiter(ps, o);
  if (auto p = limiter.probe(); !p.ok) {
    std::fprintf(stderr, "%s\n", p.error.c_str());
    return 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<long> failed{0};
  std::vector<std::vector<float>> lat(static_cast<size_t>(threads));
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      std::vector<std::string> addr, key;
      for (int i = 0; i < clients; ++i) {
        addr.push_back("10." + std::to_string(t) + "." + std::to_string(i >> 8) + "." +
                       std::to_string(i & 255));
        key.push_back("key_" + std::to_string(t) + "_" + std::to_string(i));
      }
      auto& mine = lat[static_cast<size_t>(t)];
      for (size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const size_t c = i % static_cast<size_t>(clients);
        const LimitCheck checks[] = {
            {0, addr[c]}, {1, addr[c], LimitMode::Peek}, {2, key[c]}};
        const auto t0 = Clock::now();
        const LimitResult r = limiter.decide(checks);
        mine.push_back(std::chrono::duration<float, std::micro>(Clock::now() - t0).count());
        if (!r.available) ++failed;
      }
    });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  std::vector<float> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[static_cast<size_t>(p * (all.size() - 1))]; };
  std::printf("threads %d  decisions/s %.0f  p50 %.1f us  p99 %.1f us  unavailable %ld\n", threads,
              static_cast<double>(all.size()) / seconds, pct(0.5), pct(0.99), failed.load());
  return 0;
}
