#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include <fstream>

#include "core/byte_size.h"
#include "core/error.h"
#include "partition/plan_file.h"
#include "partition/planner.h"
#include "partition/stage_cost.h"
#include "tests/partition/partition_test_support.h"
#include "tests/support/temp_dir.h"

namespace baton::partition {
namespace {

const ModelConfigs& released() {
  static const ModelConfigs m = model_from_preset("newbie-exp0.1");
  return m;
}

DeviceInventory two_16() { return parse_device_spec("cuda:0=16GiB,cuda:1=16GiB", test::FakeProbe::none()); }

pb::Plan two_gpu_plan() { return make_plan(released(), Workload{}, two_16(), DeviceSpeeds()); }

// Index of the DiT stage holding `block`.
int dit_stage(const pb::Plan& plan, int block) {
  for (int i = 0; i < plan.stages_size(); ++i) {
    const auto& s = plan.stages(i);
    if (s.kind() == pb::Stage::DIT && s.dit_blocks().begin() <= block && block < s.dit_blocks().end()) return i;
  }
  return -1;
}

std::string refusal(const pb::Plan& plan, const DeviceInventory& inventory) {
  try {
    validate_plan(plan, inventory, released());
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "the plan was accepted";
  return {};
}

TEST(PlanFile, JsonRoundTripKeepsEveryField) {
  const auto plan = two_gpu_plan();
  const auto json = plan_to_json(plan);
  EXPECT_NE(json.find("\"dit_blocks\""), std::string::npos);
  EXPECT_NE(json.find("\"images_per_minute\""), std::string::npos);
  const auto back = plan_from_json(json, "test");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(plan, back));

  test::TempDir dir;
  save_plan(dir.file("plan.json"), plan);
  const auto loaded = load_plan(dir.file("plan.json"));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(plan, loaded));
  // A fresh plan validates against its own devices with the same estimates.
  const auto checked = validate_plan(loaded, two_16(), released());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(plan, checked));
}

TEST(PlanFile, AnEditedBoundaryIsReestimated) {
  auto plan = two_gpu_plan();
  const int a = dit_stage(plan, 0), b = dit_stage(plan, 35);
  ASSERT_NE(a, b);
  const int cut = plan.stages(a).dit_blocks().end();
  const int64_t before = plan.stages(b).weight_bytes();
  plan.mutable_stages(a)->mutable_dit_blocks()->set_end(cut - 2);
  plan.mutable_stages(b)->mutable_dit_blocks()->set_begin(cut - 2);
  const auto checked = validate_plan(plan, two_16(), released());
  const CostModel cost(released(), Workload{});
  EXPECT_EQ(checked.stages(b).weight_bytes() - before, 2 * weight_bytes(cost.dit_block_params(), WeightFormat::kBf16));
}

TEST(PlanFile, GapsDuplicatesAndMisplacedFlagsAreRefused) {
  const auto good = two_gpu_plan();
  const int a = dit_stage(good, 0), b = dit_stage(good, 35);
  const int cut = good.stages(a).dit_blocks().end();

  auto gap = good;
  gap.mutable_stages(a)->mutable_dit_blocks()->set_end(cut - 2);
  EXPECT_NE(refusal(gap, two_16()).find("DiT blocks " + std::to_string(cut - 2) + ".." + std::to_string(cut - 1) +
                                        " are placed nowhere"),
            std::string::npos)
      << refusal(gap, two_16());

  auto twice = good;
  twice.mutable_stages(b)->mutable_dit_blocks()->set_begin(cut - 1);
  EXPECT_NE(refusal(twice, two_16()).find("DiT block " + std::to_string(cut - 1) + " is placed twice"), std::string::npos)
      << refusal(twice, two_16());

  auto tail = good;
  tail.mutable_stages(b)->mutable_dit_blocks()->set_end(30);
  tail.mutable_stages(b)->set_dit_final(false);
  EXPECT_NE(refusal(tail, two_16()).find("DiT blocks 30..35 are placed nowhere"), std::string::npos);

  auto flags = good;
  flags.mutable_stages(b)->set_dit_final(false);
  EXPECT_NE(refusal(flags, two_16()).find("dit_final"), std::string::npos);

  auto order = good;
  order.mutable_stages()->SwapElements(0, order.stages_size() - 1);
  EXPECT_NE(refusal(order, two_16()).find("out of pipeline order"), std::string::npos);

  auto no_vae = good;
  no_vae.mutable_stages()->RemoveLast();
  EXPECT_NE(refusal(no_vae, two_16()).find("the VAE is placed 0 times"), std::string::npos);

  auto layers = good;
  for (auto& s : *layers.mutable_stages())
    if (s.kind() == pb::Stage::TEXT) s.mutable_gemma_layers()->set_end(30);
  EXPECT_NE(refusal(layers, two_16()).find("Gemma layers 30..32 are placed nowhere"), std::string::npos);
}

TEST(PlanFile, UnknownDevicesAndBudgetsAreCheckedAgainstTheDevicesAtHand) {
  const auto plan = two_gpu_plan();
  const auto one = parse_device_spec("cuda:0=16GiB", test::FakeProbe::none());
  EXPECT_NE(refusal(plan, one).find("on a device that does not exist here"), std::string::npos) << refusal(plan, one);
  const auto small = parse_device_spec("cuda:0=8GiB,cuda:1=16GiB", test::FakeProbe::none());
  const auto msg = refusal(plan, small);
  EXPECT_NE(msg.find("cuda:0 is over its budget"), std::string::npos) << msg;
  EXPECT_NE(msg.find("its budget is 8.00 GiB"), std::string::npos) << msg;
}

TEST(PlanFile, MalformedJsonIsRefused) {
  EXPECT_THROW(plan_from_json("{\"stages\": [{\"knd\": \"DIT\"}]}", "x"), Error);
  EXPECT_THROW(plan_from_json("not json", "x"), Error);
  EXPECT_THROW(load_plan("/nonexistent/plan.json"), Error);
  auto plan = two_gpu_plan();
  plan.set_format_version(7);
  EXPECT_NE(refusal(plan, two_16()).find("format_version 7"), std::string::npos);
}

}  // namespace
}  // namespace baton::partition
