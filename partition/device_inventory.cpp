#include "partition/device_inventory.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/byte_size.h"
#include "core/error.h"

namespace baton::partition {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
}

const char* kDeviceHint = "name devices cuda:N or cpu, optionally host/ first, e.g. cuda:0=8GiB,cuda:1=8GiB,cpu=32GiB";

// Fills name, host, kind and index from "cuda:1", "cpu" or "node2/cuda:0".
InventoryDevice parse_device_name(const std::string& text, const std::string& origin) {
  InventoryDevice d;
  std::string name = trim(text);
  const auto slash = name.find('/');
  if (slash != std::string::npos) {
    d.host = name.substr(0, slash);
    name = name.substr(slash + 1);
    if (d.host.empty()) throw UsageError(origin + ": empty host name in '" + text + "'", kDeviceHint);
  }
  const auto colon = name.find(':');
  const std::string kind = name.substr(0, colon);
  const std::string index = colon == std::string::npos ? "" : name.substr(colon + 1);
  if (kind == "cpu") {
    if (!index.empty() && index != "0")
      throw UsageError(origin + ": '" + text + "': a host has one cpu device", "write cpu");
    d.kind = DeviceKind::kCpu;
    d.name = "cpu";
  } else if (kind == "cuda") {
    if (index.empty())
      throw UsageError(origin + ": '" + text + "' has no device index", "write cuda:0, cuda:1, ...");
    if (index.find_first_not_of("0123456789") != std::string::npos || index.size() > 3)
      throw UsageError(origin + ": '" + text + "' has a bad device index", "write cuda:0, cuda:1, ...");
    d.kind = DeviceKind::kCuda;
    d.index = std::stoi(index);
    d.name = "cuda:" + std::to_string(d.index);
  } else {
    throw UsageError(origin + ": unknown device kind '" + kind + "' in '" + text + "'", kDeviceHint);
  }
  return d;
}

int64_t parse_budget(const std::string& text, const InventoryDevice& d, const std::string& origin) {
  int64_t bytes = 0;
  try {
    bytes = parse_byte_size(trim(text));
  } catch (Error& e) {
    throw UsageError(origin + ": budget of " + d.id() + ": " + e.what(), e.hint());
  }
  if (bytes <= 0) throw UsageError(origin + ": budget of " + d.id() + " must be positive", "e.g. " + d.name + "=8GiB");
  return bytes;
}

// Detects what was not given and checks that local devices exist.
void resolve(InventoryDevice& d, const DeviceProbe& probe, bool check_present, const std::string& origin) {
  const bool local = d.host.empty();
  if (d.kind == DeviceKind::kCuda && local && check_present && probe.can_detect_cuda() &&
      d.index >= probe.cuda_count()) {
    const int n = probe.cuda_count();
    throw UsageError(origin + ": " + d.name + " is not present: this machine has " + std::to_string(n) +
                         " CUDA device" + (n == 1 ? "" : "s") +
                         (n > 0 ? " (cuda:0" + (n > 1 ? std::string("..cuda:") + std::to_string(n - 1) : "") + ")" : ""),
                     "to plan for another machine give every budget and add --no-detect");
  }
  if (d.budget > 0) {
    if (d.budget_source.empty()) d.budget_source = "given";
  } else if (!local) {
    throw UsageError(origin + ": " + d.id() + " is on another host and has no budget", "write " + d.id() + "=8GiB");
  } else if (d.kind == DeviceKind::kCuda) {
    if (!probe.can_detect_cuda() || d.index >= probe.cuda_count())
      throw UsageError(origin + ": " + d.name + " has no budget and CUDA memory cannot be detected here",
                       "write " + d.name + "=8GiB (its memory budget)");
    const auto mem = probe.cuda_memory(d.index);
    d.budget = default_cuda_budget(mem);
    d.total = mem.total;
    d.budget_source = "detected: " + format_byte_size(mem.free) + " free minus margin";
    if (d.budget <= 0) throw Error(origin + ": " + d.name + " has no free memory (" + format_byte_size(mem.free) + " free)");
  } else {
    const int64_t available = probe.cpu_available();
    if (available <= 0)
      throw UsageError(origin + ": cpu has no budget and MemAvailable cannot be read", "write cpu=16GiB");
    d.budget = default_cpu_budget(available);
    d.total = probe.cpu_total();
    d.budget_source = "detected: MemAvailable " + format_byte_size(available) + " minus margin";
    if (d.budget <= 0) throw Error(origin + ": cpu has no memory available (" + format_byte_size(available) + ")");
  }
  if (d.model.empty() && local && d.kind == DeviceKind::kCuda && probe.can_detect_cuda() && d.index < probe.cuda_count())
    d.model = probe.cuda_model(d.index);
}

void check_unique(const DeviceInventory& inv, const std::string& origin) {
  std::set<std::string> seen;
  for (const auto& d : inv)
    if (!seen.insert(d.id()).second)
      throw UsageError(origin + ": " + d.id() + " is listed twice", "name every device once");
  if (inv.empty()) throw UsageError(origin + ": no devices", kDeviceHint);
}

}  // namespace

pb::Device InventoryDevice::to_proto() const {
  pb::Device m;
  m.set_name(name);
  m.set_host(host);
  m.set_budget_bytes(budget);  // exact; `budget` is for people writing files
  m.set_budget_source(budget_source);
  m.set_total_bytes(total);
  m.set_model(model);
  m.set_rank(rank);
  return m;
}

const DeviceProbe& no_device_probe() {
  struct NoProbe : DeviceProbe {
    bool can_detect_cuda() const override { return false; }
    int cuda_count() const override { return 0; }
    DeviceMemoryInfo cuda_memory(int) const override { return {}; }
    std::string cuda_model(int) const override { return {}; }
    int64_t cpu_available() const override { return 0; }
    int64_t cpu_total() const override { return 0; }
  };
  static const NoProbe probe;
  return probe;
}

int64_t default_cuda_budget(const DeviceMemoryInfo& m) { return m.free - std::max<int64_t>(256 * kMiB, m.total / 20); }

int64_t default_cpu_budget(int64_t available) { return available - std::max<int64_t>(kGiB, available / 10); }

DeviceInventory parse_device_spec(const std::string& spec, const DeviceProbe& probe, bool check_present) {
  const std::string origin = "--devices";
  if (trim(spec) == "auto") return detect_local_devices(probe);
  DeviceInventory inv;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (trim(item).empty()) throw UsageError(origin + ": empty entry in '" + spec + "'", kDeviceHint);
    const auto eq = item.find('=');
    auto d = parse_device_name(item.substr(0, eq), origin);
    if (eq != std::string::npos) d.budget = parse_budget(item.substr(eq + 1), d, origin);
    inv.push_back(d);
  }
  check_unique(inv, origin);
  for (auto& d : inv) resolve(d, probe, check_present, origin);
  return inv;
}

DeviceInventory inventory_from_proto(const pb::DeviceInventory& message, const DeviceProbe& probe, bool check_present,
                                     const std::string& origin) {
  DeviceInventory inv;
  for (const auto& m : message.devices()) {
    auto d = parse_device_name(m.name(), origin);
    d.host = m.host().empty() ? d.host : m.host();
    if (!m.budget().empty() && m.budget_bytes() != 0)
      throw UsageError(origin + ": " + d.id() + " has both budget and budget_bytes", "give one of them");
    if (!m.budget().empty()) d.budget = parse_budget(m.budget(), d, origin);
    else if (m.budget_bytes() < 0) throw UsageError(origin + ": budget_bytes of " + d.id() + " is negative");
    else d.budget = m.budget_bytes();
    d.budget_source = m.budget_source();
    d.total = m.total_bytes();
    d.model = m.model();
    d.rank = m.rank();
    inv.push_back(d);
  }
  check_unique(inv, origin);
  for (auto& d : inv) resolve(d, probe, check_present, origin);
  return inv;
}

DeviceInventory load_device_file(const std::string& path, const DeviceProbe& probe, bool check_present) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot open device file " + path);
  std::stringstream text;
  text << in.rdbuf();
  pb::DeviceInventory message;
  const auto status = google::protobuf::util::JsonStringToMessage(text.str(), &message);
  if (!status.ok())
    throw UsageError("device file " + path + " is not a device inventory: " + status.ToString(),
                     "see configs/devices.example.json");
  return inventory_from_proto(message, probe, check_present, "device file " + path);
}

DeviceInventory detect_local_devices(const DeviceProbe& probe) {
  std::string spec;
  const int n = probe.can_detect_cuda() ? probe.cuda_count() : 0;
  for (int i = 0; i < n; ++i) spec += "cuda:" + std::to_string(i) + ",";
  spec += "cpu";
  DeviceInventory inv;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto d = parse_device_name(item, "--devices auto");
    resolve(d, probe, true, "--devices auto");
    inv.push_back(d);
  }
  return inv;
}

pb::DeviceInventory inventory_to_proto(const DeviceInventory& inv) {
  pb::DeviceInventory m;
  for (const auto& d : inv) *m.add_devices() = d.to_proto();
  return m;
}

std::string describe_inventory(const DeviceInventory& inv) {
  std::string s;
  for (const auto& d : inv) s += (s.empty() ? "" : ", ") + d.id() + " (" + format_byte_size(d.budget) + ")";
  return s;
}

}  // namespace baton::partition
