// Channel semantics on the in-process transport: round trips, end of stream,
// a peer that goes away, deadlines, the handshake, error reports, groups.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/error.h"
#include "sample_messages.h"
#include "transport/in_process_channel.h"

using namespace baton;
using namespace baton::transport;
using namespace std::chrono_literals;

namespace {

const c10::Device kCpu(c10::kCPU);

auto make_link(const WireLimits& limits = {}) {
  return InProcessChannel::make_pair({0, "text", ""}, kCpu, {1, "dit0", ""}, kCpu, limits);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(InProcessChannel, RoundTripsEveryDtypeBothWays) {
  auto [a, b] = make_link();
  for (int i = 0; i < 3; ++i) {
    a->send(test::sample_message(i), Deadline::after(1s));
    b->send(test::sample_message(10 + i), Deadline::after(1s));
  }
  for (int i = 0; i < 3; ++i) {
    auto at_b = b->receive(Deadline::after(1s));
    ASSERT_TRUE(at_b);
    test::expect_same_message(*at_b, test::sample_message(i));
    auto at_a = a->receive(Deadline::after(1s));
    ASSERT_TRUE(at_a);
    test::expect_same_message(*at_a, test::sample_message(10 + i));
  }
  EXPECT_EQ(a->describe_peer(), "rank 1 (stage dit0)");
  EXPECT_EQ(b->describe_peer(), "rank 0 (stage text)");
}

TEST(InProcessChannel, HandsOverBetweenThreads) {
  auto [a, b] = make_link();
  std::thread producer([a = a] {
    for (int i = 0; i < 50; ++i) a->send(test::sample_message(i), Deadline::after(5s));
    a->send_shutdown("done", Deadline::after(5s));
  });
  int received = 0;
  while (auto m = b->receive(Deadline::after(5s))) {
    test::expect_same_message(*m, test::sample_message(received));
    ++received;
  }
  producer.join();
  EXPECT_EQ(received, 50);
  // After Shutdown, receive() keeps answering "no message" at once.
  EXPECT_FALSE(b->receive(Deadline::after(10ms)));
}

TEST(InProcessChannel, ReceiveTimesOutNamingThePeerAndWhatWasAwaited) {
  auto [a, b] = make_link();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([&] { b->receive(Deadline::after(150ms)); }),
            "rank 0 (stage text): no message arrived within 150 ms");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST(InProcessChannel, APeerThatGoesAwayWithoutShutdownIsAnError) {
  auto [a, b] = make_link();
  a->send(test::sample_message(1), Deadline::after(1s));
  a.reset();
  // What was sent before is still delivered, then the failure.
  ASSERT_TRUE(b->receive(Deadline::after(1s)));
  EXPECT_EQ(error_of([&] { b->receive(Deadline::after(1s)); }),
            "rank 0 (stage text): closed its end of the channel without Shutdown (its thread ended or failed)");
  EXPECT_TRUE(b->failure().has_value());
  EXPECT_EQ(error_of([&] { b->send(test::sample_message(2), Deadline::after(1s)); }),
            "rank 0 (stage text): closed its end of the channel; nothing more can be sent");
}

TEST(InProcessChannel, ErrorReportsBecomeErrorsAtTheReceiver) {
  auto [a, b] = make_link();
  a->report_error(0, "text", "CUDA out of memory");
  EXPECT_EQ(error_of([&] { b->receive(Deadline::after(1s)); }), "rank 0 (stage text): failed: CUDA out of memory");
  a->report_error(3, "vae", "disk full");
  EXPECT_EQ(error_of([&] { b->receive(Deadline::after(1s)); }),
            "rank 0 (stage text): reports that rank 3 (stage vae) failed: disk full");
  // The channel goes on.
  a->send(test::sample_message(4), Deadline::after(1s));
  EXPECT_TRUE(b->receive(Deadline::after(1s)));
}

TEST(InProcessChannel, RefusesToSendBeyondTheWireLimits) {
  WireLimits limits;
  limits.max_tensor_elements = 10;
  auto [a, b] = make_link(limits);
  Message m;
  m.add("big", at::zeros({11}));
  EXPECT_EQ(error_of([&] { a->send(m, Deadline::after(1s)); }),
            "sending a message to rank 1 (stage dit0): tensor 'big' has more than 10 elements (the limit)");
  Message complex;
  complex.add("c", at::zeros({2}, at::kComplexFloat));
  EXPECT_NE(error_of([&] { a->send(complex, Deadline::after(1s)); }).find("cannot be sent"), std::string::npos);
}

TEST(InProcessChannel, FlowControlWaitsForTheReceiverUntilTheDeadline) {
  WireLimits limits;
  limits.max_queued_bytes = 1000;
  auto [a, b] = make_link(limits);
  Message m;
  m.add("x", at::zeros({200}));  // 800 bytes
  a->send(m, Deadline::after(1s));
  EXPECT_EQ(error_of([&] { a->send(m, Deadline::after(50ms)); }),
            "rank 1 (stage dit0): no room in its queue within 50 ms (it is not receiving)");
  ASSERT_TRUE(b->receive(Deadline::after(1s)));
  a->send(m, Deadline::after(1s));
}

TEST(Handshake, AgreeingPeersLearnEachOthersStage) {
  auto [a, b] = InProcessChannel::make_pair({0, "", ""}, kCpu, {1, "", ""}, kCpu);
  std::thread peer([b = b] {
    handshake_all({b.get()}, make_hello("model-1", "plan-1", wire::BFLOAT16, 1, "dit0"), Deadline::after(2s));
  });
  auto hellos =
      handshake_all({a.get()}, make_hello("model-1", "plan-1", wire::BFLOAT16, 0, "text"), Deadline::after(2s));
  peer.join();
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0].stage(), "dit0");
  EXPECT_EQ(a->describe_peer(), "rank 1 (stage dit0)");
  EXPECT_EQ(b->describe_peer(), "rank 0 (stage text)");
}

TEST(Handshake, RefusesMismatchesNamingBothSidesValues) {
  struct Case {
    wire::Hello theirs;
    std::string expected;
  };
  const auto ours = make_hello("model-1", "plan-1", wire::BFLOAT16, 0, "text");
  auto wrong_version = make_hello("model-1", "plan-1", wire::BFLOAT16, 1, "dit0");
  wrong_version.set_protocol_version(2);
  const std::string prefix = "handshake with rank 1: ";
  std::vector<Case> cases = {
      {make_hello("model-2", "plan-1", wire::BFLOAT16, 1, "dit0"),
       prefix + "model_hash differs: this rank (rank 0) has 'model-1', rank 1 has 'model-2'"},
      {make_hello("model-1", "plan-9", wire::BFLOAT16, 1, "dit0"),
       prefix + "plan_hash differs: this rank (rank 0) has 'plan-1', rank 1 has 'plan-9'"},
      {make_hello("model-1", "plan-1", wire::FLOAT32, 1, "dit0"),
       prefix + "dtype differs: this rank (rank 0) has bfloat16, rank 1 has float32"},
      {wrong_version, prefix + "protocol_version differs: this rank (rank 0) has 1, rank 1 has 2"},
      {make_hello("model-1", "plan-1", wire::BFLOAT16, 2, "dit0"),
       prefix + "the peer says it is rank 2, expected rank 1"},
  };
  for (const auto& c : cases) {
    auto [a, b] = InProcessChannel::make_pair({0, "", ""}, kCpu, {1, "", ""}, kCpu);
    // The peer's side of the exchange, written directly: its Hello only.
    Packet hello;
    hello.envelope.set_protocol_version(kProtocolVersion);
    *hello.envelope.mutable_hello() = c.theirs;
    b->send_packet(std::move(hello), Deadline::after(1s));
    try {
      handshake_all({a.get()}, ours, Deadline::after(1s));
      ADD_FAILURE() << "accepted: " << c.expected;
    } catch (const Error& e) {
      EXPECT_EQ(e.what(), c.expected);
      EXPECT_EQ(e.hint().empty(), false);
    }
  }
}

TEST(Handshake, TimesOutNamingThePeer) {
  auto [a, b] = make_link();
  EXPECT_EQ(error_of([&] {
              handshake_all({a.get()}, make_hello("m", "p", wire::FLOAT32, 0, "text"), Deadline::after(50ms));
            }),
            "handshake (waiting for the peer's Hello): rank 1 (stage dit0): no message arrived within 50 ms");
}

TEST(ChannelGroup, WaitsOnSeveralChannelsAndSurfacesTheFirstFailure) {
  auto [a1, b1] = InProcessChannel::make_pair({0, "", ""}, kCpu, {1, "text", ""}, kCpu);
  auto [a2, b2] = InProcessChannel::make_pair({0, "", ""}, kCpu, {2, "dit1", ""}, kCpu);
  ChannelGroup group;
  group.add(a1);
  group.add(a2);
  std::thread sender([b2 = b2] {
    std::this_thread::sleep_for(30ms);
    b2->send(test::sample_message(5), Deadline::after(1s));
  });
  Channel& ready = group.wait_any(Deadline::after(2s));
  sender.join();
  EXPECT_EQ(&ready, a2.get());
  EXPECT_TRUE(ready.receive(Deadline::after(1s)));

  EXPECT_EQ(error_of([&] { group.wait_any(Deadline::after(20ms)); }),
            "waiting for a message from any of rank 1 (stage text), rank 2 (stage dit1): nothing arrived within 20 ms");

  // Waiting on rank 1 while rank 2 goes away: the wait ends with rank 2's failure.
  std::thread killer([&b2 = b2] {
    std::this_thread::sleep_for(30ms);
    b2.reset();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([&] { group.receive_from(*a1, Deadline::after(5s)); }),
            "rank 2 (stage dit1): closed its end of the channel without Shutdown (its thread ended or failed)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  killer.join();
}

TEST(ChannelGroup, AFinishedPeerAnswersAtOnceAndIsSkippedByWaitAny) {
  auto [a1, b1] = InProcessChannel::make_pair({0, "", ""}, kCpu, {1, "text", ""}, kCpu);
  auto [a2, b2] = InProcessChannel::make_pair({0, "", ""}, kCpu, {2, "dit1", ""}, kCpu);
  ChannelGroup group;
  group.add(a1);
  group.add(a2);
  b1->send_shutdown("done", Deadline::after(1s));
  EXPECT_FALSE(group.receive_from(*a1, Deadline::after(1s)));
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(group.receive_from(*a1, Deadline::after(5s)));  // at once, not at the deadline
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  b2->send(test::sample_message(7), Deadline::after(1s));
  EXPECT_EQ(&group.wait_any(Deadline::after(1s)), a2.get());
}
