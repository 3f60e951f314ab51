#include <gtest/gtest.h>

#include <fstream>

#include "core/byte_size.h"
#include "core/error.h"
#include "partition/device_inventory.h"
#include "tests/partition/partition_test_support.h"
#include "tests/support/temp_dir.h"

namespace baton::partition {
namespace {

using test::FakeProbe;

FakeProbe two_gpus() {
  FakeProbe p;
  p.gpus = {{16 * kGiB, 15 * kGiB}, {8 * kGiB, 7 * kGiB}};
  p.names = {"NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 4060"};
  p.available = 20 * kGiB;
  p.total = 32 * kGiB;
  return p;
}

// The message of the UsageError `f` throws.
template <typename F>
std::string usage_error(F f) {
  try {
    f();
  } catch (const UsageError& e) {
    return std::string(e.what()) + " | " + e.hint();
  }
  ADD_FAILURE() << "no UsageError";
  return {};
}

TEST(DeviceInventory, ParsesNamesAndBudgets) {
  const auto inv = parse_device_spec("cuda:0=8GiB, cuda:1=6.5G ,cpu=32GiB", FakeProbe::none());
  ASSERT_EQ(inv.size(), 3u);
  EXPECT_EQ(inv[0].id(), "cuda:0");
  EXPECT_EQ(inv[0].budget, 8 * kGiB);
  EXPECT_EQ(inv[0].budget_source, "given");
  EXPECT_EQ(inv[1].kind, DeviceKind::kCuda);
  EXPECT_EQ(inv[1].index, 1);
  EXPECT_EQ(inv[1].budget, static_cast<int64_t>(6.5 * kGiB));
  EXPECT_EQ(inv[2].kind, DeviceKind::kCpu);
  EXPECT_EQ(inv[2].budget, 32 * kGiB);
  const auto remote = parse_device_spec("node2/cuda:0=12GiB", FakeProbe::none());
  EXPECT_EQ(remote[0].host, "node2");
  EXPECT_EQ(remote[0].id(), "node2/cuda:0");
}

TEST(DeviceInventory, BadSpecsAreRefusedClearly) {
  const auto& none = FakeProbe::none();
  EXPECT_NE(usage_error([&] { parse_device_spec("gpu:0=8GiB", none); }).find("unknown device kind 'gpu'"), std::string::npos);
  EXPECT_NE(usage_error([&] { parse_device_spec("cuda=8GiB", none); }).find("no device index"), std::string::npos);
  EXPECT_NE(usage_error([&] { parse_device_spec("cuda:0=8GiB,cuda:0=4GiB", none); }).find("cuda:0 is listed twice"),
            std::string::npos);
  EXPECT_NE(usage_error([&] { parse_device_spec("cuda:0=eight", none); }).find("budget of cuda:0"), std::string::npos);
  EXPECT_NE(usage_error([&] { parse_device_spec("cuda:0=8XB", none); }).find("unknown unit"), std::string::npos);
  EXPECT_NE(usage_error([&] { parse_device_spec("cuda:0=0", none); }).find("must be positive"), std::string::npos);
  EXPECT_NE(usage_error([&] { parse_device_spec("cuda:0=8GiB,,cpu", none); }).find("empty entry"), std::string::npos);
  EXPECT_NE(usage_error([&] { parse_device_spec("cpu:1", none); }).find("one cpu"), std::string::npos);
  // No budget and nothing to detect it with.
  EXPECT_NE(usage_error([&] { parse_device_spec("cuda:0", none); }).find("cannot be detected"), std::string::npos);
  EXPECT_NE(usage_error([&] { parse_device_spec("node2/cpu", none); }).find("another host"), std::string::npos);
}

TEST(DeviceInventory, LocalCudaDevicesMustExistWhenTheyCanBeCounted) {
  const auto probe = two_gpus();
  const auto msg = usage_error([&] { parse_device_spec("cuda:0=8GiB,cuda:2=8GiB", probe); });
  EXPECT_NE(msg.find("cuda:2 is not present: this machine has 2 CUDA devices (cuda:0..cuda:1)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--no-detect"), std::string::npos) << msg;
  // Planning for another machine, or a build that cannot count GPUs: accepted.
  EXPECT_EQ(parse_device_spec("cuda:2=8GiB", probe, false).size(), 1u);
  EXPECT_EQ(parse_device_spec("cuda:7=8GiB", FakeProbe::none()).size(), 1u);
}

TEST(DeviceInventory, MissingBudgetsAreFreeMemoryMinusAMargin) {
  const auto probe = two_gpus();
  const auto inv = parse_device_spec("cuda:0,cuda:1=4GiB,cpu", probe);
  EXPECT_EQ(inv[0].budget, 15 * kGiB - 16 * kGiB / 20);  // 5 % of 16 GiB > 256 MiB
  EXPECT_EQ(inv[0].total, 16 * kGiB);
  EXPECT_EQ(inv[0].model, "NVIDIA H100 80GB HBM3");
  EXPECT_NE(inv[0].budget_source.find("detected"), std::string::npos);
  EXPECT_EQ(inv[1].budget, 4 * kGiB);
  EXPECT_EQ(inv[2].budget, 18 * kGiB);  // 20 GiB available - 2 GiB (10 %)
  EXPECT_EQ(default_cuda_budget({4 * kGiB, 3 * kGiB}), 3 * kGiB - 256 * kMiB);
  EXPECT_EQ(default_cpu_budget(4 * kGiB), 3 * kGiB);
}

TEST(DeviceInventory, AutoDetectsEveryGpuAndTheCpu) {
  const auto inv = parse_device_spec("auto", two_gpus());
  ASSERT_EQ(inv.size(), 3u);
  EXPECT_EQ(inv[1].id(), "cuda:1");
  EXPECT_EQ(inv[1].model, "NVIDIA GeForce RTX 4060");
  EXPECT_EQ(inv[2].id(), "cpu");
  // Without GPUs and without /proc/meminfo numbers there is nothing to plan on.
  EXPECT_THROW(parse_device_spec("auto", FakeProbe::none()), UsageError);
}

TEST(DeviceInventory, DeviceFileAndRankReportsShareOneFormat) {
  test::TempDir dir;
  {
    std::ofstream f(dir.file("devices.json"));
    f << R"({"devices": [{"name": "cuda:0", "budget": "8GiB", "model": "RTX 4060"},
                         {"name": "cuda:1", "budget_bytes": "6442450944"},
                         {"name": "cuda:0", "host": "node2", "budget": "12GiB", "rank": 3},
                         {"name": "cpu", "budget": "32GiB"}]})";
  }
  const auto inv = load_device_file(dir.file("devices.json"), FakeProbe::none());
  ASSERT_EQ(inv.size(), 4u);
  EXPECT_EQ(inv[0].model, "RTX 4060");
  EXPECT_EQ(inv[1].budget, 6 * kGiB);
  EXPECT_EQ(inv[2].id(), "node2/cuda:0");
  EXPECT_EQ(inv[2].rank, 3);
  // What a rank reports under MPI: the same message, round-tripped.
  const auto again = inventory_from_proto(inventory_to_proto(inv), FakeProbe::none(), false, "rank reports");
  ASSERT_EQ(again.size(), inv.size());
  for (size_t i = 0; i < inv.size(); ++i) {
    EXPECT_EQ(again[i].id(), inv[i].id());
    EXPECT_EQ(again[i].budget, inv[i].budget);
    EXPECT_EQ(again[i].model, inv[i].model);
  }
  // Budgets that are not round numbers survive exactly.
  auto odd = inv;
  odd[0].budget = 7123456789;
  EXPECT_EQ(inventory_from_proto(inventory_to_proto(odd), FakeProbe::none(), false, "x")[0].budget, 7123456789);
  {
    std::ofstream f(dir.file("typo.json"));
    f << R"({"devices": [{"nme": "cuda:0"}]})";
  }
  const auto msg = usage_error([&] { load_device_file(dir.file("typo.json"), FakeProbe::none()); });
  EXPECT_NE(msg.find("typo.json is not a device inventory"), std::string::npos) << msg;
  {
    std::ofstream f(dir.file("dup.json"));
    f << R"({"devices": [{"name": "cpu", "budget": "1GiB"}, {"name": "cpu", "budget": "2GiB"}]})";
  }
  EXPECT_NE(usage_error([&] { load_device_file(dir.file("dup.json"), FakeProbe::none()); }).find("listed twice"),
            std::string::npos);
  EXPECT_THROW(load_device_file(dir.file("missing.json"), FakeProbe::none()), UsageError);
  {
    std::ofstream f(dir.file("both.json"));
    f << R"({"devices": [{"name": "cpu", "budget": "1GiB", "budget_bytes": "1073741824"}]})";
  }
  EXPECT_NE(usage_error([&] { load_device_file(dir.file("both.json"), FakeProbe::none()); }).find("both budget and budget_bytes"),
            std::string::npos);
}

TEST(DeviceInventory, TheExampleConfigLoads) {
  const auto inv = load_device_file(std::string(BATON_SOURCE_DIR) + "/configs/devices.example.json", FakeProbe::none());
  EXPECT_GE(inv.size(), 2u);
}

}  // namespace
}  // namespace baton::partition
