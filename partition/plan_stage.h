#pragma once
// Between the plan's Stage messages and the cost model's StageContent.
#include <string>

#include "partition/plan.pb.h"
#include "partition/stage_cost.h"

namespace baton::partition {

StageContent content_of(const pb::Stage& stage);
// The placement fields of a Stage (estimates are left to evaluate_plan).
pb::Stage stage_of(const StageContent& content, const std::string& device);
// "text (Jina, Gemma embed + layers 0-32)", "DiT blocks 0-11 + prologue", "VAE (tiles of 512 px)".
std::string describe_stage(const pb::Stage& stage);
const char* stage_kind_name(pb::Stage::Kind kind);

}  // namespace baton::partition
