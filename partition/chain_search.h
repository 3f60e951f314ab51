#pragma once
// Splitting a chain of units into contiguous ranges over an ordered list of
// devices so that the slowest device is as fast as possible (then, among
// those, the times are as even as possible), trying the distinct orders of
// the devices. The caller supplies a table: the time of each device holding
// each range, or nothing where the range does not fit.
#include <optional>
#include <vector>

namespace baton::partition {

class RangeCosts {
 public:
  RangeCosts(int devices, int units);
  int devices() const { return devices_; }
  int units() const { return units_; }
  // Time (ms per image) of device d holding units [begin, end); empty ranges
  // too (the device's fixed stages, if any). Unset entries do not fit.
  void set(int d, int begin, int end, double ms);
  const double* get(int d, int begin, int end) const;

 private:
  int devices_, units_;
  std::vector<double> ms_;
  std::vector<char> fits_;
};

struct ChainSplit {
  std::vector<int> order;  // device indices in pipeline order
  std::vector<int> cuts;   // device order[i] holds units [cuts[i], cuts[i+1]); size devices + 1
  double bottleneck_ms = 0;
};

// `signature[d]`: devices with equal signatures are interchangeable, so only
// distinct orders are tried (at most `max_orders`; beyond that, a few
// heuristic orders: as given, by signature ascending and descending).
std::optional<ChainSplit> best_chain_split(const RangeCosts& costs, const std::vector<long>& signature,
                                           long max_orders = 5040);

}  // namespace baton::partition
