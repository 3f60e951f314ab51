#include <gtest/gtest.h>

#include "core/error.h"
#include "transport/wire_limits.h"
#include "worker/stage_wire.h"

namespace baton::worker {
namespace {

using Role = StageAddress::Role;

TEST(StageWire, EveryKindRoundTripsWithItsStageMetaBranchesAndTensors) {
  const MessageKind kinds[] = {MessageKind::Start,    MessageKind::Encoded, MessageKind::Step,
                               MessageKind::Latent,   MessageKind::Progress, MessageKind::Image,
                               MessageKind::Finished, MessageKind::Failed,  MessageKind::Cancel,
                               MessageKind::Ready};
  const std::vector<int64_t> branch_sets[] = {{}, {0}, {1}, {0, 1}};
  int i = 0;
  for (auto kind : kinds) {
    StageMessage m;
    m.kind = kind;
    m.request_id = 1000 + i;
    m.step = i;
    m.branches = branch_sets[i % 4];
    if (i % 2) m.meta = {{"request", {{"prompt", "ein Fuchs \xF0\x9F\xA6\x8A"}}}, {"t", 0.25}};
    m.tensors["tokens"] = at::arange(6, at::kFloat).reshape({2, 3}).add(i);
    const StageAddress to = i % 3 == 0 ? StageAddress{Role::Dit, i} : StageAddress{Role::Coordinator, 0};
    auto [back_to, back] = from_wire(to_wire(to, m));
    EXPECT_EQ(back_to, to);
    EXPECT_EQ(back.kind, kind) << message_kind_name(kind);
    EXPECT_EQ(back.request_id, m.request_id);
    EXPECT_EQ(back.step, m.step);
    EXPECT_EQ(back.branches, m.branches);
    EXPECT_EQ(back.meta, m.meta);
    ASSERT_EQ(back.tensors.count("tokens"), 1u);
    EXPECT_TRUE(at::equal(back.tensors.at("tokens"), m.tensors.at("tokens")));
    ++i;
  }
}

TEST(StageWire, RefusesWhatHasNoWireFormOrIsMalformed) {
  StageMessage shutdown;
  shutdown.kind = MessageKind::Shutdown;
  EXPECT_THROW(to_wire({Role::Text, 0}, shutdown), Error);
  StageMessage odd;
  odd.kind = MessageKind::Step;
  odd.branches = {1, 0};
  EXPECT_THROW(to_wire({Role::Dit, 1}, odd), Error);

  StageMessage ok;
  ok.kind = MessageKind::Start;
  auto wire = to_wire({Role::Text, 0}, ok);
  wire.header.set_stage("dit");  // no index
  EXPECT_THROW(from_wire(wire), Error);
  wire.header.set_stage("decoder");
  EXPECT_THROW(from_wire(wire), Error);
  wire.header.set_stage("text");
  wire.header.set_meta("[1, 2]");  // not an object
  EXPECT_THROW(from_wire(wire), Error);
  wire.header.set_meta("{\"unterminated");
  EXPECT_THROW(from_wire(wire), Error);
  wire.header.set_meta("");
  wire.header.set_kind(baton::wire::STAGE_KIND_UNSPECIFIED);
  EXPECT_THROW(from_wire(wire), Error);
  EXPECT_EQ(parse_stage_address("dit12"), (StageAddress{Role::Dit, 12}));
}

TEST(StageWire, TheTransportBoundsMetaAndStageBeforeAnythingElse) {
  transport::WireLimits limits;
  limits.max_meta_bytes = 64;
  baton::wire::Envelope e;
  e.set_protocol_version(transport::kProtocolVersion);
  auto* h = e.mutable_microbatch();
  h->set_kind(baton::wire::STAGE_LATENT);
  h->set_meta(std::string(65, ' '));
  try {
    transport::check_envelope(e, limits);
    FAIL() << "oversized meta accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("meta has 65 bytes, the limit is 64"), std::string::npos) << err.what();
  }
  h->set_meta("{}");
  h->set_stage(std::string(200, 'd'));
  EXPECT_THROW(transport::check_envelope(e, limits), Error);
  h->set_stage("dit0");
  h->set_kind(static_cast<baton::wire::StageKind>(77));
  EXPECT_THROW(transport::check_envelope(e, limits), Error);
}

}  // namespace
}  // namespace baton::worker
