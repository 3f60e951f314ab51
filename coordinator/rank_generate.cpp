#include "coordinator/rank_generate.h"

#include <cstdlib>

#include "coordinator/pipeline_assembly.h"
#include "coordinator/rank_pipeline.h"

namespace baton::coordinator {

int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* value = std::getenv(name); value && *value) return std::atoi(value);
  return -1;
}

GenerateReport run_generate_on_ranks(const GenerateOptions& o) {
  auto membership = transport::Membership::join();
  const auto& m = *membership;
  GenerateReport report;
  report.rank = m.rank();
  std::vector<std::string> paths;
  std::string why;
  auto pipeline = start_rank_pipeline(m, o, [&] { paths = prepare_outputs(o); }, &why);
  if (!pipeline) {
    report.errors.push_back(why);  // rank 0 has thrown the reason
    return report;
  }
  try {
    if (m.rank() == 0) {
      report = drive_requests(*pipeline->network, o, paths,
                              o.max_in_flight ? o.max_in_flight : requests_in_flight(pipeline->plan));
    } else {
      pipeline->network->serve();
    }
  } catch (const Error& e) {
    end_job(m, e);
  } catch (const std::exception& e) {
    end_job(m, Error("rank " + std::to_string(m.rank()) + ": " + e.what()));
  }
  finish_rank_pipeline(m, *pipeline, report);
  report.rank = m.rank();
  return report;
}

}  // namespace baton::coordinator
