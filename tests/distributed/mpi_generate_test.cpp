// `baton generate` under mpirun on the CPU with the demo model (ZeroMQ
// between ranks): the same PNGs as one process, microbatches overlapping
// across stages, and a killed rank ending the job (docs/distributed.md).
//
// Every run here uses one intra-op thread (OMP_NUM_THREADS=1): CPU kernels
// then sum in the same order whatever the number of ranks or threads, so the
// images can be compared bit for bit.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "io/png_image.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {

using Clock = std::chrono::steady_clock;

// Open MPI as root on a 2-core CI machine; recovery lets the survivors of a
// killed rank report it instead of mpirun killing them first.
const char* kMpiEnv =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_orte_enable_recovery=1 "
    "OMPI_MCA_rmaps_base_oversubscribe=1 ";

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct Job {
  TempDir dir;
  Job() { std::ofstream(dir.file("prompts.txt")) << "a red fox\na blue whale\ntwo cats on a roof\nrain over a city\n"; }
  std::string env() const {
    return "BATON_CACHE_DIR=" + dir.file("cache") + " BATON_TEST_JOB=" + dir.path() +
           " OMP_NUM_THREADS=1 BATON_LOG_LEVEL=warn ";
  }
  std::string one() const { return env() + baton_command(); }
  std::string mpirun(int ranks) const {
    return env() + kMpiEnv + BATON_MPIEXEC + " -np " + std::to_string(ranks) + " --oversubscribe " + baton_command();
  }
  // Four images (seeds 21..24) of the demo model.
  std::string generate(const std::string& size) const {
    return " generate --model demo --prompt-file " + dir.file("prompts.txt") + " --seed 21 " + size + " --no-progress";
  }
  // A plan with one device per rank (r0/cpu ... r<n-1>/cpu): both runs then
  // have the same stages, microbatches and PNG metadata.
  std::string plan_for(int ranks, const std::string& size) const {
    std::string devices;
    for (int r = 0; r < ranks; ++r) devices += (r ? "," : "") + std::string("r") + std::to_string(r) + "/cpu=2GiB";
    const std::string path = dir.file("plan" + std::to_string(ranks) + ".json");
    auto r = run_command(one() + " plan --model " + dir.file("cache/demo-model-v1") + " --devices " + devices +
                         " --microbatch 2 " + size + " -o " + path);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return path;
  }
};

const std::vector<std::string> kImages = {"newbie-001-21.png", "newbie-002-22.png", "newbie-003-23.png",
                                          "newbie-004-24.png"};

void expect_same_pixels(const std::string& a, const std::string& b) {
  auto pa = io::read_png(a), pb = io::read_png(b);
  EXPECT_EQ(pa.image.width, pb.image.width);
  EXPECT_EQ(pa.image.pixels, pb.image.pixels) << a << " and " << b << " differ in pixels";
}

// Moves Gemma layers [2, 3) of the plan's text stage to a second text stage on
// rank 1: the text stage then runs as a head on rank 0 and a tail on rank 1.
void split_text_stage(const std::string& plan_path) {
  std::ifstream in(plan_path);
  auto plan = nlohmann::json::parse(in);
  auto& stages = plan.at("stages");
  auto tail = stages.at(0);
  ASSERT_EQ(tail.at("kind"), "TEXT");
  ASSERT_EQ(tail.at("gemma_layers").at("end"), 3) << "the demo model's Gemma runs 3 layers";
  stages.at(0)["gemma_layers"]["end"] = 2;
  tail["device"] = "r1/cpu";
  tail["jina"] = false;
  tail["gemma_embed"] = false;
  tail["gemma_layers"]["begin"] = 2;
  stages.insert(stages.begin() + 1, tail);
  std::ofstream(plan_path) << plan.dump(1);
}

void ranks_make_the_one_process_pngs(int ranks, bool split_text) {
  Job job;
  const std::string size = "--width 64 --height 48 --steps 4";
  // The plain one-process run (one device), which also makes the demo model.
  auto ref = run_command(job.one() + job.generate(size) + " --devices cpu -o " + job.dir.file("ref"));
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const auto plan = job.plan_for(ranks, size);
  if (split_text) split_text_stage(plan);
  auto one = run_command(job.one() + job.generate(size) + " --plan " + plan + " -o " + job.dir.file("one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto multi = run_command(job.mpirun(ranks) + job.generate(size) + " --plan " + plan + " -o " + job.dir.file("multi"), 120);
  ASSERT_EQ(multi.exit_code, 0) << multi.output;
  EXPECT_NE(multi.output.find("4 image(s)"), std::string::npos) << multi.output;
  // The last rank did its part (its stage's line in rank 0's summary).
  EXPECT_NE(multi.output.find("on r" + std::to_string(ranks - 1) + "/cpu"), std::string::npos) << multi.output;
  if (split_text) {
    EXPECT_NE(multi.output.find("text1  on r1/cpu"), std::string::npos) << multi.output;
  }
  for (const auto& name : kImages) {
    const auto bytes = read_file(job.dir.file("multi/" + name));
    ASSERT_FALSE(bytes.empty()) << name << "\n" << multi.output;
    EXPECT_TRUE(bytes == read_file(job.dir.file("one/" + name))) << name << " differs from the one-process PNG";
    // Whatever the partition, the same pixels as one device.
    expect_same_pixels(job.dir.file("multi/" + name), job.dir.file("ref/" + name));
  }
}

struct Span {
  int rank;
  std::string stage, kind;
  int64_t start, end;
};

// Every whole line; a last line still being written (the run goes on while
// the kill test polls) is skipped, not an error.
std::vector<Span> read_trace(const std::string& path) {
  std::vector<Span> spans;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) continue;
    spans.push_back({j.at("rank"), j.at("stage"), j.at("kind"), j.at("start_us"), j.at("end_us")});
  }
  return spans;
}

}  // namespace

TEST(MpiGenerate, ThreeRanksMakeTheOneProcessPngsByteForByte) { ranks_make_the_one_process_pngs(3, false); }

// Four ranks, with Gemma split over ranks 0 and 1 (text -> text1 -> dit0).
TEST(MpiGenerate, FourRanksWithGemmaSplitOverTwoMakeTheOneProcessPngsByteForByte) {
  ranks_make_the_one_process_pngs(4, true);
}

// Four queued prompts over three ranks planned here (--devices, one per rank):
// the trace shows stages of different ranks working at the same time.
TEST(MpiGenerate, QueuedPromptsOverlapAcrossStages) {
  Job job;
  const std::string size = "--width 128 --height 128 --steps 6";
  auto ref = run_command(job.one() + job.generate(size) + " --devices cpu -o " + job.dir.file("ref"));
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  auto r = run_command(job.mpirun(3) + job.generate(size) + " --devices cpu,cpu,cpu --trace " +
                           job.dir.file("trace.jsonl") + " -o " + job.dir.file("multi"),
                       120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& name : kImages) expect_same_pixels(job.dir.file("multi/" + name), job.dir.file("ref/" + name));

  const auto spans = read_trace(job.dir.file("trace.jsonl"));
  std::set<std::string> stages;
  size_t dit_steps = 0;
  for (const auto& s : spans) {
    stages.insert(s.stage + "@r" + std::to_string(s.rank));
    dit_steps += s.stage.rfind("dit", 0) == 0 && s.kind != "finished";
  }
  // Every stage of the plan shows up, and every DiT stage saw every step of every image.
  EXPECT_GE(stages.size(), 4u) << r.output;
  EXPECT_GE(dit_steps, 2u * 4 * 6);
  int overlaps = 0;
  for (size_t i = 0; i < spans.size(); ++i)
    for (size_t k = i + 1; k < spans.size(); ++k) {
      const auto &a = spans[i], &b = spans[k];
      if (a.rank == b.rank || a.kind == "finished" || b.kind == "finished") continue;
      overlaps += a.start < b.end && b.start < a.end;
    }
  EXPECT_GT(overlaps, 0) << "no two stages of different ranks worked at the same time (" << spans.size() << " spans)";
  std::printf("%zu stage spans, %d pairs overlapping across ranks\n", spans.size(), overlaps);
}

// Rank 2 (DiT stage 1 of four ranks) is killed once the first image is out:
// the job ends within 30 s with an error naming the rank and its stage, and
// only whole PNGs of finished images are left.
TEST(MpiGenerate, AKilledRankEndsTheJobNamingItsRankAndStage) {
  Job job;
  const std::string size = "--width 64 --height 48 --steps 150";
  auto made = run_command(job.one() + " generate --model demo --prompt x --width 64 --height 48 --steps 1 -o " +
                          job.dir.file("warmup.png"));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto plan = job.plan_for(4, size);
  const std::string trace = job.dir.file("trace.jsonl");
  CommandResult result;
  Clock::time_point ended;
  std::thread run([&] {
    result = run_command(job.mpirun(4) + job.generate(size) + " --plan " + plan + " --max-in-flight 1 --trace " +
                             trace + " -o " + job.dir.file("out"),
                         120);
    ended = Clock::now();
  });
  // Wait for the first image's decode in the trace, then kill rank 2.
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  bool decoded = false;
  while (!decoded && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const auto& s : read_trace(trace)) decoded = decoded || s.stage == "vae";
  }
  pid_t victim = 0;
  for (const auto& entry : files_in("/proc")) {
    if (entry.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto environ = read_file("/proc/" + entry + "/environ");
    if (environ.find("BATON_TEST_JOB=" + job.dir.path() + '\0') != std::string::npos &&
        environ.find(std::string("OMPI_COMM_WORLD_RANK=2") + '\0') != std::string::npos &&
        read_file("/proc/" + entry + "/cmdline").find("generate") != std::string::npos)
      victim = static_cast<pid_t>(std::stoi(entry));
  }
  const auto killed = Clock::now();
  if (victim) kill(victim, SIGKILL);
  run.join();
  ASSERT_TRUE(decoded) << "no image was decoded within 60 s\n" << result.output;
  ASSERT_NE(victim, 0) << "rank 2 was not found\n" << result.output;
  const double seconds = std::chrono::duration<double>(ended - killed).count();
  EXPECT_LT(seconds, 30.0) << result.output;
  EXPECT_NE(result.output.find("baton: error: rank 2 (stage dit1)"), std::string::npos) << result.output;
  // Only finished images, each a whole PNG; nothing half-written beside them.
  const auto left = files_in(job.dir.file("out"));
  EXPECT_GE(left.size(), 1u);
  EXPECT_LT(left.size(), 4u);
  for (const auto& name : left) {
    EXPECT_EQ(name.substr(name.size() - 4), ".png") << name;
    EXPECT_NO_THROW(io::read_png(job.dir.file("out/" + name))) << name;
  }
  std::printf("the job ended %.1f s after rank 2 was killed; %zu finished image(s) left\n", seconds, left.size());
}

}  // namespace baton::test
