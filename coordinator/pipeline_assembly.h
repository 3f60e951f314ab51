#pragma once
// From a plan to running stages: which StageWorker each device gets, with
// only its slice of the weights loaded (design.md: a stage loads what it owns).
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/stage_model.h"
#include "io/model_folder.h"
#include "partition/plan.pb.h"
#include "worker/stage_worker.h"

namespace baton::coordinator {

// How the stages run, beyond the plan's placement (the same on every rank).
struct StageRuntimeOptions {
  size_t dit_cuda_graphs = 0;  // CUDA graphs per DiT stage's blocks (worker::DitStage), 0 = none
};
struct PipelineOptions;
// What a pipeline's options ask of the stages (coordinator/pipeline.cpp).
StageRuntimeOptions stage_runtime_options(const PipelineOptions& o);

// The stages of the plan on `device` ("cuda:0", "cpu"), as one worker. The
// text stage goes to the device of the plan's first text stage (a Gemma split
// over two text stages becomes the text stage's two-device split); DiT stages
// are numbered in plan order. Returns nullptr when the plan puts nothing there.
std::unique_ptr<worker::StageWorker> assemble_worker(const StageModel& model, const partition::pb::Plan& plan,
                                                     const std::string& device,
                                                     const StageRuntimeOptions& runtime = {});
std::unique_ptr<worker::StageWorker> assemble_worker(const io::ModelFolder& model, const partition::pb::Plan& plan,
                                                     const std::string& device,
                                                     const StageRuntimeOptions& runtime = {});

// Under mpirun plan devices are named r<rank>/<device> (docs/distributed.md):
// "r2/cuda:0" -> {2, "cuda:0"}; nullopt for a name without that prefix. In
// one process such a plan runs each rank's stages on a thread of its own
// (a rehearsal of the distributed run: the same stages, the same images).
std::optional<std::pair<int, std::string>> split_rank_device(const std::string& id);

// The plan splits Gemma over two text stages on different ranks: they run as
// the stages "text" (head) and "text1" (tail).
bool text_split_over_ranks(const partition::pb::Plan& plan);

// Every device of the plan that holds a stage, in plan order.
std::vector<std::string> plan_devices(const partition::pb::Plan& plan);

// How the plan batches CFG branches (microbatch_samples 1 = separate).
worker::PipelineShape pipeline_shape(const partition::pb::Plan& plan);

// Requests in the pipeline at once so that every stage has work: one per DiT
// stage (each request has one microbatch moving round the ring at a time, or
// two with separate branches) plus one being encoded or decoded.
size_t requests_in_flight(const partition::pb::Plan& plan);

// A short summary of the plan for PNG metadata and logs.
nlohmann::json plan_summary(const partition::pb::Plan& plan);

// Throws Error for what this build cannot run yet (stated in the message).
void check_runnable(const partition::pb::Plan& plan);

}  // namespace baton::coordinator
