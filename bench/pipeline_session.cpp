#include "bench/pipeline_session.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "core/byte_size.h"
#include "core/error.h"

namespace baton::bench {

using Clock = std::chrono::steady_clock;

namespace {

// Pipeline order: text, text1, dit0, dit1, ..., vae.
int stage_order(const std::string& stage) {
  if (stage.rfind("text", 0) == 0) return stage.size() > 4 ? std::atoi(stage.c_str() + 4) : 0;
  if (stage.rfind("dit", 0) == 0) return 100 + std::atoi(stage.c_str() + 3);
  return 100000;
}

}  // namespace

void validate_pipeline_settings(const PipelineBenchSettings& s) {
  if (s.iters < 1 || s.warmup < 0) throw UsageError("--iters must be at least 1 and --warmup at least 0");
  if (s.prompts < 1) throw UsageError("--prompts must be at least 1");
  s.request.validate();
}

PipelineSession::PipelineSession(const PipelineBenchSettings& settings, std::unique_ptr<coordinator::Pipeline> pipeline,
                                 double open_seconds)
    : settings_(settings), pipeline_(std::move(pipeline)), open_seconds_(open_seconds), next_seed_(settings.request.seed) {}

PipelineSession::~PipelineSession() = default;

std::unique_ptr<PipelineSession> PipelineSession::open(const PipelineBenchSettings& s) {
  validate_pipeline_settings(s);
  const auto start = Clock::now();
  auto pipeline = coordinator::Pipeline::open(s.pipeline, {s.request.width, s.request.height, s.request.steps});
  if (!pipeline) return nullptr;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return std::unique_ptr<PipelineSession>(new PipelineSession(s, std::move(pipeline), seconds));
}

double PipelineSession::run(int count) {
  auto& runner = pipeline_->runner();
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    auto r = settings_.request;
    // A prompt of its own per image: the text stage's prompt cache must not answer for it.
    r.prompt += ", picture " + std::to_string(images_ + i + 1);
    r.seed = next_seed_++;
    runner.submit(r);
  }
  int done = 0;
  std::string error;
  while (!runner.idle()) {
    const auto e = runner.poll(std::chrono::milliseconds(200));
    if (!e) continue;
    if (e->kind == coordinator::RunEvent::Kind::Done) ++done;
    if (e->kind == coordinator::RunEvent::Kind::Failed && error.empty()) error = e->error;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!error.empty()) throw Error("a benchmark image failed: " + error);
  require(done == count, fmt::format("the pipeline finished {} of {} benchmark images", done, count));
  images_ += count;
  seconds_ += seconds;
  return seconds;
}

void PipelineSession::start_timing() {
  busy_at_start_ = pipeline_->stage_timings();
  images_at_start_ = images_;
  seconds_at_start_ = seconds_;
}

SessionTotals PipelineSession::close() {
  pipeline_->close();
  SessionTotals t;
  // In one process the stages report live and the warm-up is subtracted;
  // under mpirun the ranks' seconds arrive only now, warm-up included.
  const bool live = !busy_at_start_.empty();
  t.includes_warmup = !live && images_at_start_ > 0;
  t.images = live ? images_ - images_at_start_ : images_;
  t.seconds = live ? seconds_ - seconds_at_start_ : seconds_;
  for (const auto& s : pipeline_->stage_timings()) {
    double before = 0;
    for (const auto& b : busy_at_start_)
      if (b.stage == s.stage && b.device == s.device) before = b.busy_seconds;
    t.busy.push_back({s.stage, s.device, s.busy_seconds - before});
  }
  std::stable_sort(t.busy.begin(), t.busy.end(),
                   [](const StageBusy& a, const StageBusy& b) { return stage_order(a.stage) < stage_order(b.stage); });
  t.peaks = pipeline_->peak_bytes();
  return t;
}

void PipelineSession::describe(BenchReport& report) const {
  const auto& plan = pipeline_->plan();
  const auto& r = settings_.request;
  std::string dtype, stages;
  for (const auto& s : plan.stages()) {
    if (dtype.empty() && s.kind() == partition::pb::Stage::DIT) dtype = s.compute_dtype();
    stages += fmt::format("{}{} on {} ({})", stages.empty() ? "" : ", ",
                          partition::pb::Stage::Kind_Name(s.kind()), s.device(), s.weight_format());
  }
  auto& info = report.info();
  info["model"] = settings_.pipeline.model;
  info["preset"] = plan.model().preset();
  info["dtype"] = dtype;
  info["weight_format"] = plan.weight_format();
  info["width"] = r.width;
  info["height"] = r.height;
  info["steps"] = r.steps;
  info["cfg"] = r.cfg_scale;
  info["devices"] = settings_.pipeline.devices;
  info["plan_file"] = settings_.pipeline.plan_file;
  info["plan_stages"] = stages;
  info["open_seconds"] = open_seconds_;
  info["warmup"] = settings_.warmup;
  info["cuda_graphs"] = settings_.pipeline.cuda_graphs;
  report.add_line(fmt::format("model {}{}, {}x{}, {} steps, cfg {}{}; pipeline opened (plan, load) in {:.1f} s",
                              settings_.pipeline.model,
                              plan.model().preset().empty() ? "" : " (" + plan.model().preset() + ")", r.width,
                              r.height, r.steps, r.cfg_scale, settings_.pipeline.cuda_graphs ? ", CUDA graphs" : "",
                              open_seconds_));
  report.add_line("stages: " + stages);
}

void add_peaks(BenchReport& report, const partition::pb::Plan& plan, const SessionTotals& totals) {
  auto peaks = nlohmann::json::array();
  for (const auto& [device, bytes] : totals.peaks) {
    int64_t budget = 0;
    for (const auto& u : plan.usage())
      if (u.device() == device) budget = u.budget_bytes();
    const bool cuda = device.find("cuda") != std::string::npos;
    peaks.push_back({{"device", device}, {"peak_bytes", bytes}, {"budget_bytes", budget},
                     {"measure", cuda ? "allocated" : "process max RSS"}});
    report.add_line(fmt::format("peak on {}: {} {}{}", device, format_byte_size(bytes),
                                cuda ? "allocated" : "(process max RSS)",
                                budget > 0 ? ", plan budget " + format_byte_size(budget) : ""));
  }
  report.info()["peaks"] = peaks;
}

}  // namespace baton::bench
