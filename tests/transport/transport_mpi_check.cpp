// Runs under mpirun (registered in CTest): the transport between processes.
//
//   transport_mpi_check ring [--rounds N]
//       each rank sends a message of every dtype to the next rank over
//       ZeroMQ, receives from the previous one and checks every value.
//   transport_mpi_check kill --victim R [--after N]
//       the same ring, until rank R kills itself (SIGKILL) after N rounds;
//       every other rank must fail within 30 s with an error naming rank R.
//       Prints "rank K PASS: ..." or "rank K FAIL: ..." per survivor (needs
//       mpirun to keep the survivors running: OMPI_MCA_orte_enable_recovery=1).
#include <ATen/ATen.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "transport/membership.h"
#include "transport/zmq_channel.h"
#include "transport/zmq_node.h"

using namespace baton;
using namespace baton::transport;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string mode;
  int rounds = 20;
  int victim = -1;
  int after = 3;
};

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) throw UsageError("usage: transport_mpi_check ring|kill [--rounds N] [--victim R] [--after N]");
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--rounds")
      o.rounds = value;
    else if (flag == "--victim")
      o.victim = value;
    else if (flag == "--after")
      o.after = value;
    else
      throw UsageError("unknown option " + flag);
  }
  if (o.mode != "ring" && o.mode != "kill") throw UsageError("mode must be ring or kill");
  if (o.mode == "kill" && o.victim < 0) throw UsageError("kill needs --victim R");
  return o;
}

std::string stage_of(int rank) { return "ring" + std::to_string(rank); }

// Every dtype, values fixed by (sender, round), so the receiver can check them.
Message ring_message(int sender, int round) {
  Message m;
  m.header.set_request_id(static_cast<uint64_t>(sender) * 1000 + round);
  m.header.set_step(round);
  m.header.set_branch(round % 2 ? wire::UNCOND : wire::COND);
  auto base = at::arange(0, 60, at::kDouble).add(sender * 100 + round);
  m.add("f32", base.to(at::kFloat).reshape({3, 4, 5}).div(3));
  m.add("bf16", base.to(at::kBFloat16).reshape({6, 10}));
  m.add("f16", base.to(at::kHalf).reshape({60}).mul(0.5));
  m.add("i64", base.to(at::kLong).mul(-987654321));
  m.add("bool", base.to(at::kLong).remainder(2).eq(0).reshape({2, 30}));
  return m;
}

void check_message(const Message& got, int sender, int round) {
  const Message expected = ring_message(sender, round);
  require(got.header.request_id() == expected.header.request_id() && got.header.step() == round,
          "round " + std::to_string(round) + ": header from rank " + std::to_string(sender) + " is wrong");
  for (const auto& t : expected.tensors) {
    const auto& value = got.tensor(t.name);
    require(value.scalar_type() == t.tensor.scalar_type() && at::equal(value, t.tensor),
            "round " + std::to_string(round) + ": tensor '" + t.name + "' from rank " + std::to_string(sender) +
                " differs from what was sent");
  }
}

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int run(const Options& o, Membership& m) {
  const int rank = m.rank(), size = m.size();
  require(size >= 2, "run under mpirun with at least 2 ranks");
  ZmqNodeOptions node_options;
  node_options.rank = rank;
  node_options.address = m.transport_address();
  node_options.heartbeat_interval = 250ms;
  node_options.peer_timeout = 5s;
  ZmqNode node(node_options);
  const auto endpoints = m.allgather(node.endpoint());
  const int next = (rank + 1) % size, prev = (rank + size - 1) % size;

  auto to_next = node.connect({next, stage_of(next), endpoints[next]});
  auto from_prev = prev == next ? to_next : node.connect({prev, stage_of(prev), endpoints[prev]});
  ChannelGroup group;
  group.add(to_next);
  if (from_prev != to_next) group.add(from_prev);
  std::vector<Channel*> channels;
  for (const auto& c : group.channels()) channels.push_back(c.get());
  handshake_all(channels, make_hello("ring-model", "ring-plan", wire::FLOAT32, rank, stage_of(rank)),
                Deadline::after(30s));

  const bool kill = o.mode == "kill";
  const int rounds = kill ? 1000000 : o.rounds;
  auto last_progress = Clock::now();
  const auto start = Clock::now();
  try {
    for (int round = 0; round < rounds; ++round) {
      if (kill && rank == o.victim && round == o.after) {
        say("rank " + std::to_string(rank) + " kills itself after " + std::to_string(round) + " rounds");
        std::raise(SIGKILL);
      }
      to_next->send(ring_message(rank, round), Deadline::after(30s));
      auto got = group.receive_from(*from_prev, Deadline::after(30s));
      require(got.has_value(), "rank " + std::to_string(prev) + " ended the stream early");
      check_message(*got, prev, round);
      last_progress = Clock::now();
      if (kill) {
        require(Clock::now() - start < 60s, "the victim did not die within 60 s");
        std::this_thread::sleep_for(20ms);
      }
    }
  } catch (const Error& e) {
    if (!kill) throw;
    const double latency = std::chrono::duration<double>(Clock::now() - last_progress).count();
    const std::string victim = "rank " + std::to_string(o.victim) + " ";
    const bool named = std::string(e.what()).find(victim) != std::string::npos;
    char line[64];
    std::snprintf(line, sizeof line, " after %.2f s: ", latency);
    say("rank " + std::to_string(rank) + (named && latency < 30.0 ? " PASS" : " FAIL") +
        ": detected the death of rank " + std::to_string(o.victim) + line + e.what());
    // Linger so every survivor sees the victim's death before this rank's own exit.
    std::this_thread::sleep_for(1s);
    std::_Exit(named && latency < 30.0 ? 0 : 1);
  }
  // Each direction of every channel is a stream: end them all, then see every peer end its own.
  for (const auto& channel : group.channels()) channel->send_shutdown("ring complete", Deadline::after(30s));
  for (const auto& channel : group.channels()) {
    require(!group.receive_from(*channel, Deadline::after(30s)).has_value(),
            "expected Shutdown from " + channel->describe_peer());
  }
  m.barrier();
  say("rank " + std::to_string(rank) + ": ring of " + std::to_string(size) + " ok, " + std::to_string(rounds) +
      " rounds, every dtype checked");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  log::setup();
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  std::unique_ptr<Membership> membership;
  try {
    membership = Membership::join();
    return run(options, *membership);
  } catch (const Error& e) {
    const std::string message = std::string(e.what()) + (e.hint().empty() ? "" : " (" + e.hint() + ")");
    if (membership) membership->abort(message);
    std::fprintf(stderr, "%s\n", message.c_str());
    return 1;
  }
}
