#pragma once
// The start and end of a pipeline over MPI ranks (docs/distributed.md),
// shared by the commands that run under mpirun (`generate`, and `serve`): every
// rank resolves its device, rank 0 plans and broadcasts the plan, every rank
// opens the model, connects to its peers, loads its stages and reports ready.
//
// Until the network is up every rank reaches the same check points (MPI), so
// a mistake ends every rank cleanly: rank 0 throws it, the others return no
// pipeline. From then on a failure ends the whole job (end_job).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/generate_job.h"
#include "coordinator/rank_stage_network.h"
#include "coordinator/stage_model.h"
#include "partition/plan.pb.h"
#include "transport/membership.h"

namespace baton::coordinator {

struct RankPipeline {
  partition::pb::Plan plan;
  RankLayout layout;
  std::string device_id;  // this rank's plan device ("r2/cuda:0"); empty when the plan leaves it idle
  std::unique_ptr<StageModel> model;
  // Stages attached; on rank 0 every rank has reported ready.
  std::unique_ptr<RankStageNetwork> network;
};

// Collective. The plan is made as `generate` makes it (options.devices, dtype,
// text_on, microbatch, plan_file; sized for options.requests). `on_rank0` runs
// on rank 0 at the first check point (e.g. making output folders). Rank 0
// throws what went wrong before the pipeline ran; the other ranks then return
// nullopt with the reason in `why`. A failure after that ends the job.
std::optional<RankPipeline> start_rank_pipeline(const transport::Membership& membership,
                                                const GenerateOptions& options,
                                                const std::function<void()>& on_rank0, std::string* why = nullptr);

// Collective, once the job's work is done (rank 0) or served (the others):
// ends every channel cleanly and gathers every rank's stage times and peak
// memory into `report` (on rank 0). A failure ends the job.
void finish_rank_pipeline(const transport::Membership& membership, RankPipeline& pipeline, GenerateReport& report);

// Ends the whole job: rank 0 prints the error as the CLI does; the other ranks
// log it and give rank 0 time to say why (its abort ends them), then end the
// job themselves (rank 0 may be the rank that died).
[[noreturn]] void end_job(const transport::Membership& membership, const Error& error);

}  // namespace baton::coordinator
