#pragma once
// The devices of a job under mpirun (docs/distributed.md): each rank drives
// one device, named r<rank>/<device> in the plan so that ranks sharing a GPU
// (or a host's CPU) stay distinct. Each rank resolves its own device (budget
// detection needs the local machine); rank 0 plans over everyone's.
#include <string>
#include <vector>

#include "partition/device_inventory.h"

namespace baton::coordinator {

// This rank's device. `devices` lists one device per rank in rank order
// ("cuda:0=8GiB,cuda:1=8GiB,cpu=16GiB"), or is "auto": the local GPU by local
// rank (the rank's position among the ranks of its host), else the CPU. A
// detected budget is divided among the ranks of the host that use the device.
// `hosts` are the ranks' host names. Throws UsageError for a list of the wrong
// length or an entry that names a host.
partition::InventoryDevice rank_device(const std::string& devices, int rank, const std::vector<std::string>& hosts,
                                       const partition::DeviceProbe& probe);

// One rank's device as it is gathered (JSON), and the job's inventory from
// every rank's report, in rank order.
std::string device_report(const partition::InventoryDevice& device);
partition::DeviceInventory inventory_of_reports(const std::vector<std::string>& reports);

// --text-on under mpirun: a device name without a rank ("cpu", "cuda:1") means
// the first rank that drives such a device; "auto" and r<rank>/ names stay.
std::string rank_text_on(const std::string& text_on, const partition::DeviceInventory& inventory);

}  // namespace baton::coordinator
