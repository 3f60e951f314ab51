#pragma once
// The partition planner (docs/planning.md): places the text stage, the DiT and
// the VAE on the devices so that every device stays within its budget and the
// slowest device is as fast as possible.
#include <optional>
#include <string>

#include "partition/device_inventory.h"
#include "partition/device_speeds.h"
#include "partition/model_configs.h"
#include "partition/plan.pb.h"
#include "partition/weight_format.h"
#include "partition/workload.h"

namespace baton::partition {

struct PlanOptions {
  WeightFormat weights = WeightFormat::kBf16;      // GPU stages
  WeightFormat cpu_weights = WeightFormat::kFp32;  // CPU stages
  std::string text_on = "auto";                    // auto, cpu, or a device ("cuda:1")
  bool allow_time_sharing = true;
  int prompts_per_swap = 8;                        // prompts encoded per text-stage load when time-sharing
};

// Throws Error when nothing fits; its message gives the smallest budget per
// device that would work and the levers that help, with their numbers.
pb::Plan make_plan(const ModelConfigs& model, const Workload& workload, const DeviceInventory& devices,
                   const DeviceSpeeds& speeds, const PlanOptions& options = {});

// As make_plan, but nullopt instead of the explanation when nothing fits.
std::optional<pb::Plan> try_make_plan(const ModelConfigs& model, const Workload& workload,
                                      const DeviceInventory& devices, const DeviceSpeeds& speeds,
                                      const PlanOptions& options);

// The plan's workload and options, as saved in it.
Workload workload_of(const pb::Plan& plan);

// Recomputes every estimate and the totals of a plan from its placement and
// its devices (after editing, or against other budgets). Does not check it.
void evaluate_plan(pb::Plan& plan, const ModelConfigs& model, const DeviceSpeeds& speeds);

// Why nothing fits and what would (the hint of make_plan's error).
std::string explain_no_fit(const ModelConfigs& model, const Workload& workload, const DeviceInventory& devices,
                           const DeviceSpeeds& speeds, const PlanOptions& options);

}  // namespace baton::partition
