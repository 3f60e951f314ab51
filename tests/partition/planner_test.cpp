#include <gtest/gtest.h>

#include "core/byte_size.h"
#include "core/error.h"
#include "partition/plan_file.h"
#include "partition/plan_report.h"
#include "partition/planner.h"
#include "tests/partition/partition_test_support.h"

namespace baton::partition {
namespace {

pb::Plan plan_for(const std::string& spec, PlanOptions options = {}, Workload w = {}) {
  const auto model = model_from_preset("newbie-exp0.1");
  auto devices = parse_device_spec(spec, test::FakeProbe::none(), false);
  auto plan = make_plan(model, w, devices, DeviceSpeeds(), options);
  std::cout << spec << "\n" << format_plan_table(plan) << "\n";
  return plan;
}

// Every device within budget, every block placed once and in order; returns the balance.
double check_plan(const pb::Plan& plan) {
  const auto model = model_from_preset("newbie-exp0.1");
  for (const auto& u : plan.usage()) EXPECT_LE(u.total_bytes(), u.budget_bytes()) << u.device();
  // validate_plan re-derives everything from the placement and checks the tiling of blocks/layers.
  EXPECT_NO_THROW(validate_plan(plan, inventory_of(plan), model));
  int next = 0;
  for (const auto& s : plan.stages())
    if (s.kind() == pb::Stage::DIT) {
      EXPECT_EQ(s.dit_blocks().begin(), next);
      next = s.dit_blocks().end();
    }
  EXPECT_EQ(next, 36);
  std::cout << "balance: slowest DiT device " << 100 * (plan.totals().balance() - 1) << "% above ideal\n";
  return plan.totals().balance();
}

TEST(Planner, OneGpuOf24GiBHoldsEverything) {
  auto plan = plan_for("cuda:0=24GiB");
  check_plan(plan);
  ASSERT_EQ(plan.usage_size(), 1);
  EXPECT_FALSE(plan.time_sharing().enabled());
}

TEST(Planner, TwoGpusOf16GiB) {
  auto plan = plan_for("cuda:0=16GiB,cuda:1=16GiB");
  EXPECT_LT(check_plan(plan), 1.10);
  EXPECT_EQ(plan.totals().pipeline_stages(), 2);
}

TEST(Planner, FourGpusOf8GiB) {
  auto plan = plan_for("cuda:0=8GiB,cuda:1=8GiB,cuda:2=8GiB,cuda:3=8GiB");
  EXPECT_LT(check_plan(plan), 1.10);
}

TEST(Planner, ThreeGpusOf6GiBAndACpu) {
  auto plan = plan_for("cuda:0=6GiB,cuda:1=6GiB,cuda:2=6GiB,cpu=32GiB");
  EXPECT_LT(check_plan(plan), 1.10);
}

TEST(Planner, MixedGpus12_8_6) {
  auto plan = plan_for("cuda:0=12GiB,cuda:1=8GiB,cuda:2=6GiB");
  EXPECT_LT(check_plan(plan), 1.15);
}

TEST(Planner, TwoGpusOf4GiBAreRefusedInBf16WithLevers) {
  try {
    plan_for("cuda:0=4GiB,cuda:1=4GiB");
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    std::cout << e.what() << "\n" << e.hint() << "\n";
  }
}

}  // namespace
}  // namespace baton::partition
