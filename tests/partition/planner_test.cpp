// The planner on the released model (preset) for the device pools of issue 8.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include "core/byte_size.h"
#include "core/error.h"
#include "models/vae/vae_memory.h"
#include "partition/plan_file.h"
#include "partition/plan_report.h"
#include "partition/planner.h"
#include "tests/partition/partition_test_support.h"

namespace baton::partition {
namespace {

const ModelConfigs& released() {
  static const ModelConfigs m = model_from_preset("newbie-exp0.1");
  return m;
}

pb::Plan plan_for(const std::string& spec, PlanOptions options = {}, Workload w = {}) {
  auto devices = parse_device_spec(spec, test::FakeProbe::none(), false);
  auto plan = make_plan(released(), w, devices, DeviceSpeeds(), options);
  std::printf("--devices %s\n%s\n", spec.c_str(), format_plan_table(plan).c_str());
  return plan;
}

// What every plan must satisfy: each device within its budget, every DiT block
// and Gemma layer placed exactly once and in order (validate_plan re-derives
// the estimates from the placement and checks the tiling), no DiT on a CPU
// next to GPUs. Returns how far the slowest DiT device is above the ideal.
double check_plan(const pb::Plan& plan) {
  for (const auto& u : plan.usage()) {
    EXPECT_LE(u.total_bytes(), u.budget_bytes()) << u.device();
    EXPECT_EQ(u.total_bytes(), u.weight_bytes() + u.activation_bytes() + u.workspace_bytes() + u.context_bytes() +
                                   u.margin_bytes());
  }
  EXPECT_NO_THROW(validate_plan(plan, inventory_of(plan), released()));
  int next = 0;
  for (const auto& s : plan.stages())
    if (s.kind() == pb::Stage::DIT) {
      EXPECT_EQ(s.dit_blocks().begin(), next);
      next = s.dit_blocks().end();
      EXPECT_NE(s.device(), "cpu");
    }
  EXPECT_EQ(next, 36);
  const auto& t = plan.totals();
  EXPECT_NEAR(t.images_per_minute(), 60000 / t.bottleneck_ms_per_image(), 1e-9);
  EXPECT_EQ(t.microbatches_in_flight(), t.pipeline_stages());
  std::printf("balance: the slowest DiT device is %.1f%% above the ideal\n\n", 100 * (t.balance() - 1));
  return t.balance();
}

int text_stages(const pb::Plan& plan) {
  int n = 0;
  for (const auto& s : plan.stages()) n += s.kind() == pb::Stage::TEXT;
  return n;
}

TEST(Planner, OneGpuOf24GiBHoldsEverything) {
  const auto plan = plan_for("cuda:0=24GiB");
  EXPECT_DOUBLE_EQ(check_plan(plan), 1.0);
  ASSERT_EQ(plan.usage_size(), 1);
  EXPECT_EQ(text_stages(plan), 1);
  EXPECT_FALSE(plan.time_sharing().enabled());
  EXPECT_FALSE(plan.stages(plan.stages_size() - 1).vae_tiling().tiled());
}

TEST(Planner, TwoGpusOf16GiBSplitTheDitEvenly) {
  const auto plan = plan_for("cuda:0=16GiB,cuda:1=16GiB");
  EXPECT_LT(check_plan(plan), 1.05);
  EXPECT_EQ(plan.totals().pipeline_stages(), 2);
  EXPECT_EQ(text_stages(plan), 1);  // the text stage stays whole
}

TEST(Planner, FourGpusOf8GiBSplitGemmaToo) {
  const auto plan = plan_for("cuda:0=8GiB,cuda:1=8GiB,cuda:2=8GiB,cuda:3=8GiB");
  EXPECT_LT(check_plan(plan), 1.05);
  EXPECT_GE(text_stages(plan), 2);  // 8.1 GiB of text weights fit no single 8 GiB card
  EXPECT_FALSE(plan.time_sharing().enabled());
}

TEST(Planner, ThreeGpusOf6GiBAndACpu) {
  const auto plan = plan_for("cuda:0=6GiB,cuda:1=6GiB,cuda:2=6GiB,cpu=32GiB");
  // The GPU holding the end of Gemma is nearly full (memory, not time, limits
  // it), so the other two carry more blocks: 18 % above an even split.
  EXPECT_LT(check_plan(plan), 1.20);
  bool text_on_cpu = false;
  for (const auto& s : plan.stages()) text_on_cpu |= s.kind() == pb::Stage::TEXT && s.device() == "cpu";
  EXPECT_TRUE(text_on_cpu);
  EXPECT_EQ(plan.totals().pipeline_stages(), 3);
}

TEST(Planner, MixedGpus12_8_6) {
  const auto plan = plan_for("cuda:0=12GiB,cuda:1=8GiB,cuda:2=6GiB");
  EXPECT_LT(check_plan(plan), 1.05);
  EXPECT_EQ(text_stages(plan), 1);
  EXPECT_EQ(plan.stages(0).device(), "cuda:0");  // only the 12 GiB card holds the whole text stage
}

TEST(Planner, TwoGpusOf4GiBAreRefusedInBf16WithTheLevers) {
  const auto devices = parse_device_spec("cuda:0=4GiB,cuda:1=4GiB", test::FakeProbe::none(), false);
  try {
    make_plan(released(), Workload{}, devices, DeviceSpeeds());
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    const std::string hint = e.hint();
    std::printf("%s\n  hint: %s\n", e.what(), hint.c_str());
    EXPECT_NE(std::string(e.what()).find("does not fit on cuda:0 (4.00 GiB), cuda:1 (4.00 GiB)"), std::string::npos);
    EXPECT_TRUE(std::regex_search(hint, std::regex("each GPU needs at least [0-9.]+ GiB")));
    EXPECT_TRUE(std::regex_search(hint, std::regex(R"(8-bit weights \(--dtype int8\): fits the given budgets)")));
    EXPECT_TRUE(std::regex_search(hint, std::regex(R"(text stage on a CPU \(add cpu=[0-9]+GiB .*needs [0-9.]+ GiB per GPU)")));
    EXPECT_TRUE(std::regex_search(hint, std::regex(R"(smaller image \(--width 512 --height 512\): .*[0-9.]+ GiB)")));
    EXPECT_NE(hint.find("weights alone: DiT 6.49 GiB"), std::string::npos);
  }
  // The lever it names works.
  PlanOptions int8;
  int8.weights = WeightFormat::kInt8;
  EXPECT_NO_THROW(check_plan(plan_for("cuda:0=4GiB,cuda:1=4GiB", int8)));
}

TEST(Planner, OneCardTimeSharesTheTextStageAsALastResort) {
  const auto plan = plan_for("cuda:0=12GiB");
  check_plan(plan);
  EXPECT_TRUE(plan.time_sharing().enabled());
  EXPECT_GT(plan.time_sharing().swap_seconds(), 1.0);
  EXPECT_EQ(plan.time_sharing().prompts_per_swap(), 8);
  EXPECT_TRUE(plan.stages(0).time_shared());
  // The cost of time-sharing is part of the per-image estimate.
  EXPECT_NEAR(plan.totals().bottleneck_ms_per_image(), plan.usage(0).ms_per_image() - plan.stages(0).ms_per_image() +
                                                           plan.time_sharing().ms_per_image(), 1e-6);
  PlanOptions never;
  never.allow_time_sharing = false;
  const auto devices = parse_device_spec("cuda:0=12GiB", test::FakeProbe::none(), false);
  EXPECT_FALSE(try_make_plan(released(), Workload{}, devices, DeviceSpeeds(), never).has_value());
}

// The memory targets of issue 11 at 1024x1024 with both CFG branches per
// microbatch (as baton generate runs them; bench/memory_targets_gpu.sh measures them).
TEST(Planner, MemoryTargetsOfTheReleasedModelAt1024) {
  Workload w;
  w.microbatch_samples = 2;
  for (const char* spec : {"cuda:0=6GiB,cuda:1=6GiB,cuda:2=6GiB,cuda:3=6GiB", "cuda:0=10GiB,cuda:1=10GiB"}) {
    const auto plan = plan_for(spec, {}, w);
    check_plan(plan);
    EXPECT_FALSE(plan.time_sharing().enabled()) << spec;
  }
  // One 12 GiB card: bf16 only time-shared (above); 8-bit weights hold the
  // whole pipeline at once, Gemma and the DiT blocks in 8 bits.
  for (const auto format : {WeightFormat::kInt8, WeightFormat::kFp8}) {
    PlanOptions o;
    o.weights = format;
    const auto plan = plan_for("cuda:0=12GiB", o, w);
    check_plan(plan);
    EXPECT_FALSE(plan.time_sharing().enabled());
    for (const auto& s : plan.stages()) {
      EXPECT_EQ(s.weight_format(), s.kind() == pb::Stage::VAE ? "bf16" : weight_format_name(format)) << s.kind();
      EXPECT_EQ(s.compute_dtype(), "bf16");
      EXPECT_FALSE(s.time_shared());
    }
  }
}

TEST(Planner, TilesTheVaeWhenTheWholeDecodeDoesNotFit) {
  PlanOptions int8;
  int8.weights = WeightFormat::kInt8;
  // 9.5 GiB: Jina and the DiT's embedders stay bf16 under int8, so the text
  // stage, the DiT and the VAE's weights are 7.93 GiB.
  const auto plan = plan_for("cuda:0=9.5GiB", int8);
  check_plan(plan);
  const auto& vae = plan.stages(plan.stages_size() - 1);
  ASSERT_EQ(vae.kind(), pb::Stage::VAE);
  EXPECT_TRUE(vae.vae_tiling().tiled());
  // The largest square tile models::choose_vae_tile finds for what the device has left.
  EXPECT_GE(vae.vae_tiling().tile_h(), models::kMinVaeTile);
  EXPECT_LT(vae.vae_tiling().tile_h(), 128);
  EXPECT_EQ(vae.vae_tiling().tile_w(), vae.vae_tiling().tile_h());
  EXPECT_EQ(vae.vae_tiling().overlap(), models::VaeTiling::default_overlap(vae.vae_tiling().tile_h()));
  EXPECT_FALSE(plan.time_sharing().enabled());
  // One tile larger would not fit: the device total with it exceeds the budget.
  auto bigger = plan;
  const int32_t tile = vae.vae_tiling().tile_h() + 8;
  auto* t = bigger.mutable_stages(bigger.stages_size() - 1)->mutable_vae_tiling();
  t->set_tile_h(tile);
  t->set_tile_w(tile);
  t->set_overlap(static_cast<int32_t>(models::VaeTiling::default_overlap(tile)));
  evaluate_plan(bigger, released(), DeviceSpeeds());
  EXPECT_GT(bigger.usage(0).total_bytes(), bigger.usage(0).budget_bytes());
}

TEST(Planner, TextOnCpuWhenAsked) {
  PlanOptions cpu;
  cpu.text_on = "cpu";
  const auto plan = plan_for("cuda:0=16GiB,cpu=32GiB", cpu);
  check_plan(plan);
  ASSERT_EQ(plan.stages(0).kind(), pb::Stage::TEXT);
  EXPECT_EQ(plan.stages(0).device(), "cpu");
  EXPECT_EQ(plan.stages(0).weight_format(), "fp32");
  EXPECT_EQ(text_stages(plan), 1);
  cpu.text_on = "cuda:5";
  EXPECT_THROW(plan_for("cuda:0=16GiB,cpu=32GiB", cpu), UsageError);
}

TEST(Planner, FasterDevicesGetMoreBlocks) {
  auto devices = parse_device_spec("cuda:0=24GiB,cuda:1=24GiB", test::FakeProbe::none(), false);
  devices[0].model = "NVIDIA H100 80GB HBM3";  // 350 TFLOP/s against 100 for a generic GPU
  PlanOptions o;
  o.text_on = "cuda:1";
  const auto plan = make_plan(released(), Workload{}, devices, DeviceSpeeds(), o);
  std::printf("%s\n", format_plan_table(plan).c_str());
  EXPECT_LT(check_plan(plan), 1.10);
  int h100_blocks = 0;
  for (const auto& s : plan.stages())
    if (s.kind() == pb::Stage::DIT && s.device() == "cuda:0") h100_blocks += s.dit_blocks().end() - s.dit_blocks().begin();
  EXPECT_GE(h100_blocks, 26);
}

}  // namespace
}  // namespace baton::partition
