#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "sampling/generation_request.h"

namespace baton::sampling {

TEST(GenerationRequest, DefaultsAreTheNewBiePipelineDefaults) {
  GenerationRequest r;
  EXPECT_EQ(r.steps, 28);
  EXPECT_EQ(r.cfg_scale, 5.0);
  EXPECT_EQ(r.cfg_trunc, 1.0);
  EXPECT_EQ(r.renorm_cfg, 1.0);
  EXPECT_EQ(r.shift, 6.0);
  EXPECT_EQ(r.latent_height(), 128);
  EXPECT_NO_THROW(r.validate());
}

TEST(GenerationRequest, RefusesBadSizesAndSteps) {
  GenerationRequest r;
  r.width = 1000;
  try {
    r.validate();
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("1000x1024 is not a positive multiple of 16"), std::string::npos);
  }
  r.width = 1024;
  r.steps = 0;
  EXPECT_THROW(r.validate(), UsageError);
  r.steps = 28;
  r.cfg_trunc = 1.5;
  EXPECT_THROW(r.validate(), UsageError);
}

TEST(GenerationRequest, JsonRoundTripAndStrictFields) {
  GenerationRequest r;
  r.prompt = "a girl, \xe6\xa1\x9c";
  r.seed = 42;
  r.width = 512;
  auto back = GenerationRequest::from_json(r.to_json());
  EXPECT_EQ(back.to_json(), r.to_json());
  EXPECT_THROW(GenerationRequest::from_json(nlohmann::json{{"prompt", "x"}, {"stpes", 3}}), UsageError);
  EXPECT_THROW(GenerationRequest::from_json(nlohmann::json{{"prompt", 3}}), UsageError);
  EXPECT_THROW(GenerationRequest::from_json(nlohmann::json{{"seed", -1}}), UsageError);
  EXPECT_THROW(GenerationRequest::from_json(nlohmann::json::array()), UsageError);
  EXPECT_LT(random_seed(), uint64_t(1) << 53);
}

}  // namespace baton::sampling
