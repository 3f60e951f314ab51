#include "bench/throughput_scenario.h"

#include <spdlog/fmt/fmt.h>

namespace baton::bench {

std::optional<BenchReport> run_throughput_bench(const PipelineBenchSettings& s) {
  validate_pipeline_settings(s);
  auto session = PipelineSession::open(s);
  if (!session) return std::nullopt;
  BenchReport report("pipeline_throughput");
  session->describe(report);
  for (int i = 0; i < s.warmup; ++i) session->run(1);
  session->start_timing();
  const double seconds = session->run(s.prompts);
  const auto totals = session->close();

  const double per_minute = s.prompts * 60.0 / seconds;
  const auto& plan_totals = session->plan().totals();
  report.info()["prompts"] = s.prompts;
  report.info()["seconds"] = seconds;
  report.info()["images_per_minute"] = per_minute;
  report.info()["plan_images_per_minute"] = plan_totals.images_per_minute();
  report.info()["busy_includes_warmup"] = totals.includes_warmup;
  report.add_line(fmt::format("{} queued prompts in {:.2f} s after {} warm-up image(s): {:.2f} images per minute "
                              "(plan estimate {:.2f})",
                              s.prompts, seconds, s.warmup, per_minute, plan_totals.images_per_minute()));
  add_peaks(report, session->plan(), totals);
  report.add_column("stage", "stage", BenchReport::Format::kText);
  report.add_column("device", "device", BenchReport::Format::kText);
  report.add_column("busy_seconds", "busy_s", BenchReport::Format::kSeconds);
  report.add_column("busy_fraction", "busy_fraction", BenchReport::Format::kRatio);
  for (const auto& b : totals.busy)
    report.add_row({{"stage", b.stage},
                    {"device", b.device},
                    {"busy_seconds", b.seconds},
                    {"busy_fraction", totals.seconds > 0 ? b.seconds / totals.seconds : 0.0}});
  if (totals.includes_warmup)
    report.add_note("busy seconds and fractions cover the warm-up images too, which ran one at a time (under mpirun "
                    "the ranks report them only at the end)");
  return report;
}

}  // namespace baton::bench
