// The ZeroMQ transport over loopback TCP on free ports: round trips of every
// dtype, deadlines, the handshake, hostile input at the inbox (a fuzz loop of
// 10,000 malformed messages, then a valid one), and peer-death detection.
#include "transport/zmq_channel.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "core/error.h"
#include "sample_messages.h"
#include "transport/tensor_codec.h"
#include "transport/zmq_frames.h"
#include "transport/zmq_node.h"

using namespace baton;
using namespace baton::transport;
using namespace std::chrono_literals;

namespace {

ZmqNodeOptions node_options(int rank) {
  ZmqNodeOptions o;
  o.rank = rank;
  o.heartbeat_interval = 100ms;
  o.peer_timeout = 2000ms;
  o.linger = 200ms;
  return o;
}

// Two ranks in this process, each with a channel to the other, handshaken.
struct Pair {
  std::unique_ptr<ZmqNode> a = std::make_unique<ZmqNode>(node_options(0));
  std::unique_ptr<ZmqNode> b = std::make_unique<ZmqNode>(node_options(1));
  std::shared_ptr<ZmqChannel> ab, ba;  // a's channel to b, b's channel to a

  explicit Pair(bool handshake = true) {
    ab = a->connect({1, "", b->endpoint()});
    ba = b->connect({0, "", a->endpoint()});
    if (!handshake) return;
    std::thread peer(
        [this] { handshake_all({ba.get()}, make_hello("m", "p", wire::FLOAT32, 1, "dit0"), Deadline::after(5s)); });
    handshake_all({ab.get()}, make_hello("m", "p", wire::FLOAT32, 0, "text"), Deadline::after(5s));
    peer.join();
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

void send_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    socket.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

Packet packet_of(const Message& m) {
  Packet p;
  p.envelope.set_protocol_version(kProtocolVersion);
  *p.envelope.mutable_microbatch() = m.header;
  for (const auto& t : m.tensors) {
    *p.envelope.mutable_microbatch()->add_tensors() = describe_tensor(t.name, t.tensor);
    p.tensors.push_back(t.tensor);
  }
  return p;
}

template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds budget) {
  auto end = std::chrono::steady_clock::now() + budget;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

TEST(ZmqChannel, BindsAFreeLoopbackPort) {
  ZmqNode a(node_options(0)), b(node_options(1));
  EXPECT_EQ(a.endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << a.endpoint();
  EXPECT_NE(a.endpoint(), b.endpoint());
}

TEST(ZmqChannel, RoundTripsEveryDtypeBothWays) {
  Pair pair;
  EXPECT_EQ(pair.ab->describe_peer(), "rank 1 (stage dit0) at " + pair.b->endpoint());
  for (int i = 0; i < 5; ++i) {
    pair.ab->send(test::sample_message(i), Deadline::after(2s));
    pair.ba->send(test::sample_message(100 + i), Deadline::after(2s));
  }
  for (int i = 0; i < 5; ++i) {
    auto m = pair.ba->receive(Deadline::after(2s));
    ASSERT_TRUE(m);
    test::expect_same_message(*m, test::sample_message(i));
    auto n = pair.ab->receive(Deadline::after(2s));
    ASSERT_TRUE(n);
    test::expect_same_message(*n, test::sample_message(100 + i));
  }
}

TEST(ZmqChannel, MessagesSentBeforeThePeersChannelExistsWaitForIt) {
  ZmqNode a(node_options(0)), b(node_options(1));
  auto ba = b.connect({0, "", a.endpoint()});
  std::string peer_error = "none";
  std::thread peer([&] {
    peer_error = error_of([&] {
      handshake_all({ba.get()}, make_hello("m", "p", wire::FLOAT32, 1, "dit0"), Deadline::after(5s));
      ba->send(test::sample_message(1), Deadline::after(5s));
    });
  });
  std::this_thread::sleep_for(300ms);  // rank 1's Hello and message reach rank 0 before its channel exists
  auto ab = a.connect({1, "", b.endpoint()});
  handshake_all({ab.get()}, make_hello("m", "p", wire::FLOAT32, 0, "text"), Deadline::after(5s));
  auto got = ab->receive(Deadline::after(5s));
  peer.join();
  EXPECT_EQ(peer_error, "no error");
  ASSERT_TRUE(got);
  test::expect_same_message(*got, test::sample_message(1));
}

TEST(ZmqChannel, CarriesALargePayload) {
  Pair pair;
  Message m;
  m.header.set_request_id(9);
  m.add("joint", at::randn({2, 1024, 2304}));  // 18.9 MB, a microbatch at released width
  pair.ab->send(m, Deadline::after(5s));
  auto got = pair.ba->receive(Deadline::after(10s));
  ASSERT_TRUE(got);
  EXPECT_TRUE(at::equal(got->tensor("joint"), m.tensor("joint")));
}

TEST(ZmqChannel, ReceiveTimesOutNamingThePeer) {
  Pair pair;
  EXPECT_EQ(error_of([&] { pair.ab->receive(Deadline::after(100ms)); }),
            "rank 1 (stage dit0) at " + pair.b->endpoint() + ": no message arrived within 100 ms");
}

TEST(ZmqChannel, SendToAPeerThatIsNotUpTimesOut) {
  ZmqNode a(node_options(0));
  int port;
  {
    ZmqNode gone(node_options(1));  // a port that was free a moment ago and is closed now
    port = std::stoi(gone.endpoint().substr(gone.endpoint().rfind(':') + 1));
  }
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  auto channel = a.connect({1, "", endpoint});
  EXPECT_EQ(error_of([&] { channel->send(test::sample_message(0), Deadline::after(300ms)); }),
            "rank 1 at " + endpoint + ": could not send within 300 ms (not connected, or the peer is not reading)");
}

TEST(ZmqChannel, HandshakeMismatchIsRefusedOnBothSides) {
  Pair pair(/*handshake=*/false);
  std::string peer_error;
  std::thread peer([&] {
    peer_error = error_of([&] {
      handshake_all({pair.ba.get()}, make_hello("m", "plan-B", wire::FLOAT32, 1, "dit0"), Deadline::after(5s));
    });
  });
  const std::string ours = error_of([&] {
    handshake_all({pair.ab.get()}, make_hello("m", "plan-A", wire::FLOAT32, 0, "text"), Deadline::after(5s));
  });
  peer.join();
  EXPECT_EQ(ours, "handshake with rank 1 at " + pair.b->endpoint() +
                      ": plan_hash differs: this rank (rank 0) has 'plan-A', rank 1 has 'plan-B'");
  EXPECT_EQ(peer_error, "handshake with rank 0 at " + pair.a->endpoint() +
                            ": plan_hash differs: this rank (rank 1) has 'plan-B', rank 0 has 'plan-A'");
}

TEST(ZmqChannel, MalformedMessagesFromThePeerAreErrorsAndTheChannelGoesOn) {
  ZmqNode a(node_options(0));
  zmq::context_t context;
  zmq::socket_t inbox(context, zmq::socket_type::router);  // stands in for rank 1's inbox
  inbox.bind("tcp://127.0.0.1:*");
  const std::string endpoint = inbox.get(zmq::sockopt::last_endpoint);
  auto channel = a.connect({1, "", endpoint});
  zmq::socket_t peer(context, zmq::socket_type::dealer);  // rank 1's sending side
  peer.set(zmq::sockopt::routing_id, "baton/r1");
  peer.set(zmq::sockopt::linger, 0);
  peer.connect(a.endpoint());

  Message sample;
  sample.header.set_step(4);
  sample.add("x", at::arange(0, 6, at::kFloat));
  const std::string prefix = "rank 1 at " + endpoint + ": sent a malformed message: ";

  std::vector<std::pair<std::vector<zmq::message_t>, std::string>> cases;
  {
    std::vector<zmq::message_t> f;
    f.emplace_back("garbage!", 8);
    cases.emplace_back(std::move(f), "header frame is not a valid Envelope");
  }
  {
    auto f = encode_frames(packet_of(sample));
    f.pop_back();
    cases.emplace_back(std::move(f), "message has 1 frames, its MicrobatchHeader header calls for 2");
  }
  {
    auto f = encode_frames(packet_of(sample));
    f[1] = zmq::message_t(20);
    cases.emplace_back(std::move(f), "tensor 'x': payload frame has 20 bytes, its descriptor declares 24");
  }
  {
    auto p = packet_of(sample);
    p.envelope.mutable_microbatch()->mutable_tensors(0)->set_byte_length(48);
    cases.emplace_back(encode_frames(p), "tensor 'x' declares 48 bytes, but float32 x 6 elements is 24");
  }
  {
    auto p = packet_of(sample);
    p.envelope.set_protocol_version(2);
    cases.emplace_back(encode_frames(p), "protocol version 2, this build speaks 1");
  }
  for (auto& [frames, expected] : cases) {
    send_frames(peer, frames);
    EXPECT_EQ(error_of([&] { channel->receive(Deadline::after(2s)); }), prefix + expected);
  }
  auto valid = encode_frames(packet_of(sample));
  send_frames(peer, valid);
  auto got = channel->receive(Deadline::after(2s));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->header.step(), 4);
  EXPECT_TRUE(at::equal(got->tensor("x"), sample.tensor("x")));
  EXPECT_EQ(a.stats().rejected, cases.size());
}

// Issue 10, Bad input: garbage, truncated and oversized frames, wrong versions
// and unknown fields at the inbox; each is refused without a crash and the
// receiver keeps working.
TEST(ZmqChannel, SurvivesTenThousandMalformedMessagesThenDeliversAValidOne) {
  auto options = node_options(0);
  options.limits.max_message_bytes = 1 << 20;  // frames above 1 MiB are dropped by ZeroMQ unread
  ZmqNode a(options), b(node_options(1));
  auto ab = a.connect({1, "", b.endpoint()});
  auto ba = b.connect({0, "", a.endpoint()});

  zmq::context_t context;
  zmq::socket_t fuzzer(context, zmq::socket_type::dealer);
  fuzzer.set(zmq::sockopt::routing_id, "fuzzer");
  fuzzer.set(zmq::sockopt::linger, 0);
  fuzzer.set(zmq::sockopt::sndhwm, 0);
  fuzzer.connect(a.endpoint());

  std::mt19937 rng(1234);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  };
  Message sample = test::sample_message(3);
  const std::string valid_header = packet_of(sample).envelope.SerializeAsString();

  const int total = 10000;
  for (int i = 0; i < total; ++i) {
    std::vector<zmq::message_t> frames;
    auto packet = packet_of(sample);
    auto* header = packet.envelope.mutable_microbatch();
    switch (i % 12) {
      case 0: {  // random bytes, one to three frames
        frames.emplace_back(random_bytes(1 + rng() % 300));
        for (unsigned k = rng() % 3; k > 0; --k) frames.emplace_back(random_bytes(rng() % 64));
        break;
      }
      case 1: {  // a valid header cut short, with its payloads
        frames = encode_frames(packet);
        const std::string cut = valid_header.substr(0, rng() % valid_header.size());
        frames[0] = zmq::message_t(cut.data(), cut.size());
        break;
      }
      case 2:
        frames = encode_frames(packet);
        frames.pop_back();
        break;   // a payload missing
      case 3: {  // one payload's size off by a few bytes
        frames = encode_frames(packet);
        size_t k = 1 + rng() % (frames.size() - 1);
        frames[k] = zmq::message_t(random_bytes(frames[k].size() + 1 + rng() % 8));
        break;
      }
      case 4:  // a shape far beyond the element bound, with a matching byte length
        header->mutable_tensors(0)->set_shape(0, int64_t(1) << 40);
        header->mutable_tensors(0)->set_byte_length(uint64_t(1) << 62);
        frames = encode_frames(packet);
        break;
      case 5:  // too many tensors
        for (int k = 0; k < 70; ++k)
          *header->add_tensors() = describe_tensor("extra" + std::to_string(k), at::zeros({1}));
        frames = encode_frames(packet);
        break;
      case 6:
        packet.envelope.set_protocol_version(1 + rng() % 1000);
        frames = encode_frames(packet);
        break;
      case 7: {  // an unknown field appended to a valid header (field 50, varint)
        frames = encode_frames(packet);
        std::string h = valid_header + std::string("\x90\x03\x01", 3);
        frames[0] = zmq::message_t(h.data(), h.size());
        break;
      }
      case 8: {  // a byte length that disagrees with dtype x shape
        header->mutable_tensors(0)->set_byte_length(header->tensors(0).byte_length() + 4);
        frames = encode_frames(packet);
        break;
      }
      case 9: {  // more frames than any message may have
        frames.emplace_back(valid_header.data(), valid_header.size());
        for (int k = 0; k < 80; ++k) frames.emplace_back(random_bytes(4));
        break;
      }
      case 10:
        frames.emplace_back();
        break;    // an empty frame
      case 11: {  // a header frame above the header bound (but under ZeroMQ's frame bound)
        frames.emplace_back(random_bytes(i % 1200 == 11 ? (300 << 10) : 1 + rng() % 50));
        break;
      }
    }
    send_frames(fuzzer, frames);
  }
  ASSERT_TRUE(eventually([&] { return a.stats().rejected + a.stats().unknown_sender >= total; }, 20s))
      << "refused " << a.stats().rejected;
  EXPECT_EQ(a.stats().accepted, 0u);

  // Frames above the frame bound: ZeroMQ drops the connection before reading them.
  for (int i = 0; i < 5; ++i) {
    zmq::message_t huge((1 << 20) + 1);
    fuzzer.send(huge, zmq::send_flags::none);
  }
  // Raw TCP garbage (not even ZeroMQ's handshake).
  const int port = std::stoi(a.endpoint().substr(a.endpoint().rfind(':') + 1));
  for (int i = 0; i < 20; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      auto junk = random_bytes(1 + rng() % 4096);
      (void)::write(fd, junk.data(), junk.size());
    }
    ::close(fd);
  }

  // The receiver is still working: a valid message from the real peer arrives intact.
  ba->send(sample, Deadline::after(5s));
  auto got = ab->receive(Deadline::after(5s));
  ASSERT_TRUE(got);
  test::expect_same_message(*got, sample);
  EXPECT_EQ(a.stats().accepted, 1u);
  EXPECT_FALSE(ab->failure().has_value());
  EXPECT_EQ(error_of([&] { ab->receive(Deadline::after(50ms)); }).find("no message arrived"),
            std::string("rank 1 at " + b.endpoint() + ": ").size());
}

TEST(ZmqChannel, APeerThatDiesIsNoticedAndNamed) {
  Pair pair;
  pair.ba->send(test::sample_message(1), Deadline::after(2s));
  ASSERT_TRUE(pair.ab->receive(Deadline::after(2s)));
  const std::string endpoint = pair.b->endpoint();
  // Rank 1 goes away without Shutdown: its sockets close, as when a process dies.
  auto start = std::chrono::steady_clock::now();
  pair.ba.reset();
  pair.b.reset();
  const std::string lost =
      "rank 1 (stage dit0) at " + endpoint + ": the connection was lost (the process died or the network failed)";
  EXPECT_EQ(error_of([&] { pair.ab->receive(Deadline::after(10s)); }), lost);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(error_of([&] { pair.ab->send(test::sample_message(2), Deadline::after(1s)); }), lost);
}

TEST(ZmqChannel, APeerThatFallsSilentIsDeclaredDead) {
  auto options = node_options(0);
  options.peer_timeout = 600ms;
  ZmqNode a(options);
  zmq::context_t context;
  zmq::socket_t inbox(context, zmq::socket_type::router);  // rank 1's inbox stays open: no disconnect
  inbox.bind("tcp://127.0.0.1:*");
  const std::string endpoint = inbox.get(zmq::sockopt::last_endpoint);
  auto channel = a.connect({1, "vae", endpoint});
  zmq::socket_t peer(context, zmq::socket_type::dealer);
  peer.set(zmq::sockopt::routing_id, "baton/r1");
  peer.set(zmq::sockopt::linger, 0);
  peer.connect(a.endpoint());
  wire::Envelope heartbeat;
  heartbeat.set_protocol_version(kProtocolVersion);
  heartbeat.mutable_heartbeat()->set_sequence(1);
  const std::string bytes = heartbeat.SerializeAsString();
  peer.send(zmq::buffer(bytes), zmq::send_flags::none);  // heard once, then silence (a hung host)
  auto start = std::chrono::steady_clock::now();
  const std::string error = error_of([&] { channel->receive(Deadline::after(10s)); });
  EXPECT_EQ(error.rfind("rank 1 (stage vae) at " + endpoint + ": no message or heartbeat for 0.", 0), 0u) << error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(ZmqChannel, ShutdownEndsTheStreamAndTheDisconnectIsNoFailure) {
  Pair pair;
  pair.ba->send(test::sample_message(1), Deadline::after(2s));
  pair.ba->send_shutdown("finished", Deadline::after(2s));
  pair.ba.reset();
  pair.b.reset();
  ASSERT_TRUE(pair.ab->receive(Deadline::after(2s)));
  EXPECT_FALSE(pair.ab->receive(Deadline::after(2s)));
  std::this_thread::sleep_for(300ms);  // the disconnect has been seen by now
  EXPECT_FALSE(pair.ab->failure().has_value());
}

TEST(ZmqChannel, RefusesASecondChannelToTheSamePeer) {
  ZmqNode a(node_options(0));
  auto first = a.connect({1, "", "tcp://127.0.0.1:1"});
  EXPECT_EQ(error_of([&] {
              a.connect({1, "", "tcp://127.0.0.1:1"});
            }),
            "ZeroMQ transport: rank 0 already has a channel to rank 1");
  EXPECT_EQ(error_of([&] {
              a.connect({2, "", "10.0.0.1:5"});
            }),
            "ZeroMQ transport: endpoint of rank 2 is '10.0.0.1:5', expected tcp://HOST:PORT");
}
