#pragma once
// How `baton plan` shows a plan to a person: a table per device, the totals
// and the notes; and the estimate for one stage in detail (--explain-stage),
// to compare with a benchmark's measured peak.
#include <string>

#include "partition/plan.pb.h"
#include "partition/stage_cost.h"

namespace baton::partition {

std::string format_plan_table(const pb::Plan& plan);

// One stage holding a whole component ("dit": every block with prologue and
// final layer; "text": Jina + Gemma embedding + every used layer; "vae") on
// `device`, every term of its estimate listed.
std::string explain_stage(const ModelConfigs& model, const Workload& workload, const std::string& component,
                          const DeviceProfile& device);

}  // namespace baton::partition
