#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/png_image.h"
#include "tests/support/temp_dir.h"

namespace baton::io {
namespace {

RgbImage gradient(int64_t w, int64_t h) {
  RgbImage img{w, h, std::vector<uint8_t>(static_cast<size_t>(w * h * 3))};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      auto* p = &img.pixels[(y * w + x) * 3];
      p[0] = static_cast<uint8_t>(x * 7 + y);
      p[1] = static_cast<uint8_t>(y * 13);
      p[2] = static_cast<uint8_t>((x ^ y) * 5);
    }
  return img;
}

ImageRecipe example_recipe() {
  ImageRecipe r;
  r.prompt = "1girl, solo, cherry blossoms";
  r.negative_prompt = "lowres, bad hands";
  r.steps = 28;
  r.cfg_scale = 5.0;
  r.seed = 42;
  r.width = 1024;
  r.height = 1024;
  return r;
}

std::vector<std::string> folder_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST(ImageRecipe, FormatsTheAutomatic1111ParametersLine) {
  EXPECT_EQ(format_parameters(example_recipe()),
            "1girl, solo, cherry blossoms\nNegative prompt: lowres, bad hands\n"
            "Steps: 28, Sampler: Euler (flow), CFG scale: 5, Seed: 42, Size: 1024x1024, Model: NewBie-image-Exp0.1");
  auto r = example_recipe();
  r.negative_prompt.clear();  // no "Negative prompt:" line at all, as AUTOMATIC1111 writes it
  r.cfg_scale = 4.5;
  r.width = 832;
  r.height = 1216;
  r.extra = {{"Shift", "6"}, {"Plan", "dit: cuda:0, cuda:1"}};
  EXPECT_EQ(format_parameters(r),
            "1girl, solo, cherry blossoms\n"
            "Steps: 28, Sampler: Euler (flow), CFG scale: 4.5, Seed: 42, Size: 832x1216, Model: NewBie-image-Exp0.1, "
            "Shift: 6, Plan: \"dit: cuda:0, cuda:1\"");
}

TEST(PngImage, WritesAndReadsBackPixelsAndRecipeIncludingNonAscii) {
  test::TempDir dir;
  auto recipe = example_recipe();
  recipe.prompt = "少女, café au lait, 桜";  // Japanese and Latin-1 characters
  const nlohmann::json request = {{"prompt", recipe.prompt}, {"negative_prompt", recipe.negative_prompt},
                                  {"steps", 28}, {"seed", 42}, {"size", {1024, 1024}}};
  const nlohmann::json plan = {{"stages", {{{"name", "vae"}, {"device", "cuda:0"}, {"tile", "whole"}}}}};
  const auto image = gradient(37, 21);
  const auto chunks = recipe_text_chunks(recipe, request, plan);
  const auto path = dir.file("image.png");
  write_png(path, image, chunks);

  const auto back = read_png(path);
  EXPECT_EQ(back.image.width, 37);
  EXPECT_EQ(back.image.height, 21);
  EXPECT_EQ(back.image.pixels, image.pixels);
  ASSERT_EQ(back.texts.size(), 2u);
  ASSERT_NE(back.text("parameters"), nullptr);
  EXPECT_EQ(*back.text("parameters"), format_parameters(recipe));
  EXPECT_TRUE(back.texts[0].international);  // non-ASCII text needs iTXt
  ASSERT_NE(back.text("baton"), nullptr);
  EXPECT_TRUE(back.texts[1].international);  // the JSON is always iTXt
  const auto json = nlohmann::json::parse(*back.text("baton"));
  EXPECT_EQ(json.at("request"), request);
  EXPECT_EQ(json.at("plan"), plan);
  EXPECT_EQ(json.at("request").at("prompt").get<std::string>(), "少女, café au lait, 桜");
  // The bytes sent to clients are the bytes in the file.
  const auto bytes = encode_png(image, chunks);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, file);
  EXPECT_EQ(decode_png(bytes.data(), bytes.size()).image.pixels, image.pixels);
}

TEST(PngImage, AsciiParametersGoIntoAPlainTextChunk) {
  const auto bytes = encode_png(gradient(4, 4), recipe_text_chunks(example_recipe(), {{"seed", 42}}, nullptr));
  const std::string raw(bytes.begin(), bytes.end());
  EXPECT_NE(raw.find(std::string("tEXtparameters\0", 15) + "1girl, solo"), std::string::npos);
  EXPECT_NE(raw.find(std::string("iTXtbaton\0", 10)), std::string::npos);
  // Text chunks come before the image data, where tools that stop early look.
  EXPECT_LT(raw.find("tEXtparameters"), raw.find("IDAT"));
  const auto back = decode_png(bytes.data(), bytes.size());
  EXPECT_FALSE(back.texts[0].international);
  EXPECT_EQ(*back.text("baton"), R"({"plan":null,"request":{"seed":42}})");
}

TEST(PngImage, AtomicWriteLeavesOnlyTheFinalFile) {
  test::TempDir dir;
  write_png(dir.file("a.png"), gradient(8, 8), {});
  write_png(dir.file("a.png"), gradient(9, 5), {{"comment", "second", false}});  // replaces the first
  EXPECT_EQ(folder_entries(dir.path()), (std::vector<std::string>{"a.png"}));
  EXPECT_EQ(read_png(dir.file("a.png")).image.width, 9);
}

TEST(PngImage, FailedWritesLeaveNoFileAndNameTheReason) {
  test::TempDir dir;
  // A folder that does not exist.
  try {
    write_png(dir.file("missing/a.png"), gradient(4, 4), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write " + dir.file("missing/a.png") +
                                         ": cannot create a temporary file in " + dir.file("missing")),
              std::string::npos)
        << e.what();
  }
  // The final name is taken by a folder: the rename fails, the temporary goes.
  std::filesystem::create_directory(dir.file("b.png"));
  try {
    write_png(dir.file("b.png"), gradient(4, 4), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("renaming the finished temporary into place failed"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(folder_entries(dir.path()), (std::vector<std::string>{"b.png"}));
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("b.png")));
  // A read-only folder (root ignores permissions, so only checked as a user).
  std::filesystem::create_directory(dir.file("ro"));
  std::filesystem::permissions(dir.file("ro"), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  if (::geteuid() != 0) {
    EXPECT_THROW(write_png(dir.file("ro/c.png"), gradient(4, 4), {}), Error);
    EXPECT_TRUE(folder_entries(dir.file("ro")).empty());
  }
  std::filesystem::permissions(dir.file("ro"), std::filesystem::perms::owner_all);
}

// A writer killed at an arbitrary moment leaves either no final file or a
// complete one (a temporary may remain; it never carries the final name).
TEST(PngImage, KilledWriterNeverLeavesAPartialFinalFile) {
  test::TempDir dir;
  const auto path = dir.file("big.png");
  const auto image = gradient(1500, 1500);
  for (int delay_ms : {0, 5, 40}) {
    std::filesystem::remove(path);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        for (;;) write_png(path, image, {{"parameters", "loop", false}});  // until killed
      } catch (...) {
      }
      ::_exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (std::filesystem::exists(path)) {
      const auto back = read_png(path);  // throws if partial
      EXPECT_EQ(back.image.pixels, image.pixels);
    }
    for (const auto& name : folder_entries(dir.path()))
      EXPECT_TRUE(name == "big.png" || name.rfind(".big.png.tmp.", 0) == 0) << name;
  }
}

TEST(PngImage, RefusesBadInputWithClearErrors) {
  EXPECT_THROW(encode_png(RgbImage{2, 2, std::vector<uint8_t>(5)}, {}), Error);
  EXPECT_THROW(encode_png(RgbImage{0, 2, {}}, {}), Error);
  EXPECT_THROW(encode_png(gradient(2, 2), {{"", "x", false}}), Error);
  EXPECT_THROW(encode_png(gradient(2, 2), {{"bad\nkey", "x", false}}), Error);
  EXPECT_THROW(encode_png(gradient(2, 2), {{"key", "\xff\xfe not utf-8", false}}), Error);
  const std::vector<uint8_t> junk{'n', 'o', 't', ' ', 'a', ' ', 'p', 'n', 'g'};
  try {
    decode_png(junk.data(), junk.size(), "junk.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.bin is not a PNG"), std::string::npos) << e.what();
  }
  auto bytes = encode_png(gradient(16, 16), {});
  bytes.resize(bytes.size() / 2);
  try {
    decode_png(bytes.data(), bytes.size(), "half.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("half.png is not a readable PNG"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_png("/nonexistent/x.png"), Error);
  EXPECT_THROW(RgbImage::from_tensor(at::zeros({4, 4, 4}, at::kByte)), Error);
  EXPECT_THROW(RgbImage::from_tensor(at::zeros({4, 4, 3}, at::kFloat)), Error);
  const auto t = RgbImage::from_tensor(at::arange(24, at::kByte).view({1, 2, 4, 3}));
  EXPECT_EQ(t.width, 4);
  EXPECT_EQ(t.height, 2);
  EXPECT_EQ(t.pixels[23], 23);
}

}  // namespace baton::io
