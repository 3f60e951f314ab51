// The scripts of launch/: the commands they build, and the Slurm template's
// requeue on USR1 (with stub srun and scontrol).
#include <gtest/gtest.h>

#include <fstream>

#include "tests/service/background_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {

std::string script(const std::string& name) { return std::string(BATON_SOURCE_DIR) + "/launch/" + name; }

TEST(Launch, OneBoxRunsOneProcessOrOneRankPerGpu) {
  auto threads = run_command("BATON=/opt/baton " + script("one_box.sh") + " --dry-run -- serve --model demo");
  EXPECT_EQ(threads.exit_code, 0) << threads.output;
  EXPECT_EQ(threads.output, "/opt/baton serve --model demo \n");
  auto ranks = run_command("BATON=baton BATON_CACHE_DIR=/c " + script("one_box.sh") +
                           " -n 4 --dry-run -- batch 'my prompts.jsonl' --out o");
  EXPECT_EQ(ranks.exit_code, 0) << ranks.output;
  EXPECT_NE(ranks.output.find("mpirun -np 4 --host localhost:4 --bind-to none"), std::string::npos) << ranks.output;
  EXPECT_NE(ranks.output.find("-x BATON_CACHE_DIR"), std::string::npos) << ranks.output;
  EXPECT_NE(ranks.output.find("baton batch my\\ prompts.jsonl --out o"), std::string::npos) << ranks.output;
  auto bad = run_command(script("one_box.sh") + " -n zero -- serve");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST(Launch, HostfileGivesOneRankPerSlot) {
  TempDir dir;
  std::ofstream(dir.file("hosts")) << "# two hosts\nnode-a slots=2\n\nnode-b slots=3\n";
  auto r = run_command(script("hosts.sh") + " " + dir.file("hosts") + " --dry-run -- batch p.jsonl --out o");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mpirun -np 5 --hostfile " + dir.file("hosts") + " --map-by slot"), std::string::npos)
      << r.output;
  auto missing = run_command(script("hosts.sh") + " " + dir.file("nope") + " -- batch p.jsonl");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

TEST(Launch, SlurmTemplateRunsTheBatchAndRequeuesItselfBeforeTheTimeLimit) {
  TempDir dir;
  // srun records its arguments and runs a while; scontrol records what it was asked.
  std::ofstream(dir.file("srun")) << "#!/bin/sh\necho \"srun $*\" >> " << dir.file("calls") << "\nsleep 3\n";
  std::ofstream(dir.file("scontrol")) << "#!/bin/sh\necho \"scontrol $*\" >> " << dir.file("calls") << "\n";
  ASSERT_EQ(run_command("chmod +x " + dir.file("srun") + " " + dir.file("scontrol")).exit_code, 0);
  const std::string env = "PATH=" + dir.path() + ":$PATH SLURM_JOB_ID=42 MODEL=/m PROMPTS=p.jsonl OUT=/o ";
  auto r = run_command(env + "bash " + script("slurm_batch.sbatch") + " & sleep 1; kill -USR1 $!; wait $!", 60);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("time limit near, requeueing job 42"), std::string::npos) << r.output;
  const std::string calls = read_file(dir.file("calls"));
  EXPECT_NE(calls.find("srun --kill-on-bad-exit=1 --cpu-bind=none baton batch p.jsonl --out /o --model /m"),
            std::string::npos)
      << calls;
  EXPECT_NE(calls.find("scontrol requeue 42"), std::string::npos) << calls;
}

}  // namespace
}  // namespace baton::test
