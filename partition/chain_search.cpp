#include "partition/chain_search.h"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>

namespace baton::partition {

RangeCosts::RangeCosts(int devices, int units)
    : devices_(devices), units_(units),
      ms_(static_cast<size_t>(devices) * (units + 1) * (units + 1), 0.0),
      fits_(ms_.size(), 0) {}

void RangeCosts::set(int d, int begin, int end, double ms) {
  const size_t i = (static_cast<size_t>(d) * (units_ + 1) + begin) * (units_ + 1) + end;
  ms_[i] = ms;
  fits_[i] = 1;
}

const double* RangeCosts::get(int d, int begin, int end) const {
  const size_t i = (static_cast<size_t>(d) * (units_ + 1) + begin) * (units_ + 1) + end;
  return fits_[i] ? &ms_[i] : nullptr;
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Exact for one order: first the smallest bottleneck, then the smallest sum
// of squared device times among splits within that bottleneck.
std::optional<ChainSplit> split_for_order(const RangeCosts& c, const std::vector<int>& order) {
  const int k = static_cast<int>(order.size()), u = c.units();
  std::vector<std::vector<double>> f(k + 1, std::vector<double>(u + 1, kInf));
  f[0][0] = 0;
  for (int p = 0; p < k; ++p)
    for (int j = 0; j <= u; ++j) {
      if (f[p][j] == kInf) continue;
      for (int e = j; e <= u; ++e)
        if (const double* t = c.get(order[p], j, e)) f[p + 1][e] = std::min(f[p + 1][e], std::max(f[p][j], *t));
    }
  const double bottleneck = f[k][u];
  if (bottleneck == kInf) return std::nullopt;
  const double limit = bottleneck * (1 + 1e-9) + 1e-12;
  std::vector<std::vector<double>> g(k + 1, std::vector<double>(u + 1, kInf));
  std::vector<std::vector<int>> from(k + 1, std::vector<int>(u + 1, -1));
  g[0][0] = 0;
  for (int p = 0; p < k; ++p)
    for (int j = 0; j <= u; ++j) {
      if (g[p][j] == kInf) continue;
      for (int e = j; e <= u; ++e) {
        const double* t = c.get(order[p], j, e);
        if (!t || *t > limit) continue;
        const double v = g[p][j] + *t * *t;
        if (v < g[p + 1][e]) {
          g[p + 1][e] = v;
          from[p + 1][e] = j;
        }
      }
    }
  ChainSplit s;
  s.order = order;
  s.cuts.assign(k + 1, 0);
  s.cuts[k] = u;
  for (int p = k; p > 0; --p) s.cuts[p - 1] = from[p][s.cuts[p]];
  s.bottleneck_ms = bottleneck;
  return s;
}

}  // namespace

std::optional<ChainSplit> best_chain_split(const RangeCosts& costs, const std::vector<long>& signature,
                                           long max_orders) {
  const int k = costs.devices();
  std::vector<int> order(k);
  std::iota(order.begin(), order.end(), 0);
  auto by_signature = [&](int a, int b) { return signature[a] < signature[b]; };
  std::vector<std::vector<int>> orders;
  std::vector<int> sorted = order;
  std::stable_sort(sorted.begin(), sorted.end(), by_signature);
  // Count the distinct orders (multinomial) before enumerating them.
  double distinct = 1;
  for (int i = 1, run = 1; i <= k; ++i) {
    distinct *= i;
    if (i < k && signature[sorted[i]] == signature[sorted[i - 1]]) distinct /= ++run;
    else run = 1;
  }
  if (distinct <= static_cast<double>(max_orders)) {
    std::vector<int> p = sorted;
    do orders.push_back(p);
    while (std::next_permutation(p.begin(), p.end(), by_signature));
  } else {
    orders.push_back(order);
    orders.push_back(sorted);
    orders.emplace_back(sorted.rbegin(), sorted.rend());
  }
  std::optional<ChainSplit> best;
  double best_sq = kInf;
  for (const auto& o : orders) {
    auto s = split_for_order(costs, o);
    if (!s) continue;
    double sq = 0;
    for (int p = 0; p < k; ++p) {
      const double* t = costs.get(o[p], s->cuts[p], s->cuts[p + 1]);
      sq += *t * *t;
    }
    const bool better = !best || s->bottleneck_ms < best->bottleneck_ms * (1 - 1e-9) ||
                        (s->bottleneck_ms <= best->bottleneck_ms * (1 + 1e-9) && sq < best_sq * (1 - 1e-9));
    if (better) {
      best = s;
      best_sq = sq;
    }
  }
  // Interchangeable devices take their positions in index order (cuda:0 before cuda:1).
  if (best) {
    std::map<long, std::vector<int>> groups;
    for (int d : best->order) groups[signature[d]].push_back(d);
    for (auto& g : groups) std::sort(g.second.begin(), g.second.end());
    std::map<long, size_t> next;
    for (int& d : best->order) {
      const long sig = signature[d];
      d = groups[sig][next[sig]++];
    }
  }
  return best;
}

}  // namespace baton::partition
