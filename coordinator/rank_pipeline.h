#pragma once
// A Pipeline over MPI ranks (docs/distributed.md), as Pipeline::open makes it
// under mpirun for generate, serve and batch: every rank resolves its device,
// rank 0 plans and broadcasts the plan, every rank opens the model, connects
// to its peers, loads its stages and reports ready.
//
// Until the network is up every rank reaches the same check points (MPI), so
// a mistake ends every rank cleanly: rank 0 throws it, the others return no
// pipeline. From then on a failure ends the whole job (end_job).
#include <functional>
#include <memory>

#include "coordinator/pipeline.h"
#include "core/error.h"
#include "transport/membership.h"

namespace baton::coordinator {

// Pipeline::open under mpirun (see there).
std::unique_ptr<Pipeline> open_rank_pipeline(const PipelineOptions& options, const PlannedSize& size,
                                             const std::function<void()>& prepare);

// Ends the whole job: rank 0 prints the error as the CLI does; the other ranks
// log it and give rank 0 time to say why (its abort ends them), then end the
// job themselves (rank 0 may be the rank that died).
[[noreturn]] void end_job(const transport::Membership& membership, const Error& error);

}  // namespace baton::coordinator
