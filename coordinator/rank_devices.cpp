#include "coordinator/rank_devices.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/byte_size.h"
#include "core/error.h"

namespace baton::coordinator {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
}

std::vector<std::string> split_list(const std::string& spec) {
  std::vector<std::string> items;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) items.push_back(trim(item));
  return items;
}

}  // namespace

partition::InventoryDevice rank_device(const std::string& devices, int rank, const std::vector<std::string>& hosts,
                                       const partition::DeviceProbe& probe) {
  const int size = static_cast<int>(hosts.size());
  require(rank >= 0 && rank < size, "rank " + std::to_string(rank) + " is not in a job of " + std::to_string(size));
  std::vector<std::string> entries(static_cast<size_t>(size));
  if (trim(devices) == "auto") {
    const int gpus = probe.can_detect_cuda() ? probe.cuda_count() : 0;
    for (int r = 0; r < size; ++r) {
      int local = 0;  // r's position among the ranks of its host
      for (int q = 0; q < r; ++q) local += hosts[q] == hosts[r];
      entries[r] = gpus > 0 ? "cuda:" + std::to_string(local % gpus) : "cpu";
    }
  } else {
    entries = split_list(devices);
    if (static_cast<int>(entries.size()) != size)
      throw UsageError("--devices lists " + std::to_string(entries.size()) + " device(s), but the job has " +
                           std::to_string(size) + " ranks",
                       "under mpirun give one device per rank, in rank order, e.g. cuda:0=8GiB,cuda:1=8GiB "
                       "(a device may repeat: ranks then share it)");
  }
  const std::string mine = entries[static_cast<size_t>(rank)];
  const std::string name = trim(mine.substr(0, mine.find('=')));
  if (name.find('/') != std::string::npos)
    throw UsageError("--devices entry '" + mine + "' of rank " + std::to_string(rank) + " names a host",
                     "under mpirun each rank drives a device of its own host: list cuda:N or cpu per rank");
  auto d = partition::parse_device_spec(mine, probe).front();
  if (d.budget_source.rfind("detected", 0) == 0) {
    int sharing = 0;
    for (int r = 0; r < size; ++r)
      sharing += hosts[r] == hosts[rank] && trim(entries[r].substr(0, entries[r].find('='))) == name;
    if (sharing > 1) {
      d.budget /= sharing;
      d.budget_source += ", shared by " + std::to_string(sharing) + " ranks";
    }
  }
  d.host = "r" + std::to_string(rank);
  d.rank = rank;
  return d;
}

std::string device_report(const partition::InventoryDevice& d) {
  return nlohmann::json{{"name", d.name},   {"budget", d.budget}, {"budget_source", d.budget_source},
                        {"total", d.total}, {"model", d.model},   {"rank", d.rank}}
      .dump();
}

partition::DeviceInventory inventory_of_reports(const std::vector<std::string>& reports) {
  partition::pb::DeviceInventory message;
  for (size_t r = 0; r < reports.size(); ++r) {
    const auto j = nlohmann::json::parse(reports[r], nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j.contains("budget"))
      throw Error("rank " + std::to_string(r) + " reported no device");
    auto* d = message.add_devices();
    d->set_name(j.at("name").get<std::string>());
    d->set_host("r" + std::to_string(r));
    d->set_budget_bytes(j.at("budget").get<int64_t>());
    d->set_budget_source(j.value("budget_source", std::string()));
    d->set_total_bytes(j.value("total", int64_t(0)));
    d->set_model(j.value("model", std::string()));
    d->set_rank(static_cast<int32_t>(r));
  }
  return partition::inventory_from_proto(message, partition::no_device_probe(), false, "the ranks' devices");
}

std::string rank_text_on(const std::string& text_on, const partition::DeviceInventory& inventory) {
  if (text_on == "auto" || text_on.find('/') != std::string::npos) return text_on;
  for (const auto& d : inventory)
    if (d.name == text_on) return d.id();
  throw UsageError("--text-on " + text_on + ": no rank drives " + text_on,
                   "name a device of the job: " + partition::describe_inventory(inventory));
}

}  // namespace baton::coordinator
