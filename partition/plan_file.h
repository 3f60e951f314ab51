#pragma once
// Plans on disk: JSON through protobuf's JSON mapping (field names as in
// plan.proto), so a person can read, edit and pin one; and the checks a saved
// (possibly edited) plan must pass before `generate`/`serve` use it.
#include <string>

#include "partition/device_inventory.h"
#include "partition/device_speeds.h"
#include "partition/model_configs.h"
#include "partition/plan.pb.h"

namespace baton::partition {

std::string plan_to_json(const pb::Plan& plan);
// `origin` names the text in errors (a file name).
pb::Plan plan_from_json(const std::string& json, const std::string& origin);
void save_plan(const std::string& path, const pb::Plan& plan);
pb::Plan load_plan(const std::string& path);

// Checks a plan against the devices at hand and the model: every stage on a
// device of `inventory`; Jina, Gemma's embedding and every used Gemma layer,
// every DiT block and the VAE placed exactly once and in pipeline order; the
// prologue/final flags where they belong; each device within its budget (the
// inventory's). Returns the plan with the inventory's devices and fresh
// estimates. Throws Error naming the first problem.
pb::Plan validate_plan(const pb::Plan& plan, const DeviceInventory& inventory, const ModelConfigs& model,
                       const DeviceSpeeds& speeds = DeviceSpeeds());

// The devices a plan names, as an inventory (budgets as saved; nothing probed).
DeviceInventory inventory_of(const pb::Plan& plan);

}  // namespace baton::partition
