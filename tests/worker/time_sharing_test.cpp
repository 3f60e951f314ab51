#include "worker/time_sharing.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace baton::worker {

// The device frees one phase's weights before it loads the other's, never
// holds both, and retries a load that failed.
TEST(DeviceTimeSharing, HoldsOnePhaseAtATimeAndRetriesAFailedLoad) {
  std::string log;
  bool fail_text = false;
  DeviceTimeSharing sharing(at::kCPU,
                            {[&] {
                               if (fail_text) throw std::runtime_error("out of memory");
                               log += "+text ";
                             },
                             [&] { log += "-text "; }},
                            {[&] { log += "+dit "; }, [&] { log += "-dit "; }});
  EXPECT_TRUE(sharing.residents_loaded());
  EXPECT_FALSE(sharing.text_loaded());
  sharing.enter_resident_phase();  // already there
  sharing.enter_text_phase();
  sharing.enter_text_phase();  // a second queued prompt: no swap
  sharing.enter_resident_phase();
  EXPECT_EQ(log, "-dit +text -text +dit ");
  EXPECT_EQ(sharing.text_loads(), 1);

  log.clear();
  fail_text = true;
  EXPECT_THROW(sharing.enter_text_phase(), std::runtime_error);
  EXPECT_FALSE(sharing.text_loaded());
  EXPECT_FALSE(sharing.residents_loaded());
  fail_text = false;
  sharing.enter_text_phase();  // the next prompt tries again
  sharing.enter_resident_phase();
  EXPECT_EQ(log, "-dit +text -text +dit ");
  EXPECT_EQ(sharing.text_loads(), 2);
}

}  // namespace baton::worker
