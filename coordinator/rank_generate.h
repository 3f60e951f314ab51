#pragma once
// `baton generate` under mpirun (docs/distributed.md): the same options and
// the same images as one process. Every rank hosts the stages the plan puts on
// its device; rank 0 plans, runs the requests, prints progress and writes the
// images.
#include "coordinator/generate_job.h"

namespace baton::coordinator {

// Joins the MPI job and runs it. Rank 0 returns the job's report; the other
// ranks return a report with `rank` set (rank 0 prints for the job).
//
// Until the pipeline is up every rank reaches the same check points, so a
// mistake (a bad option, a plan that does not fit) ends every rank cleanly and
// rank 0 throws it. Once the pipeline runs, a failure (a rank died, a rank
// could not load its stages) ends the whole job from here: rank 0 prints the
// error naming the rank and its stages, and MPI aborts every rank; the call
// does not return then.
GenerateReport run_generate_on_ranks(const GenerateOptions& options);

// This process's rank as the MPI launcher set it in the environment
// (OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK), -1 when not launched by MPI.
int launcher_rank();

}  // namespace baton::coordinator
