// Correctness and speed of a data channel between two ranks, in the manner of
// NCCL's own tests: every operation checked, every phase timed.
//
//   mpirun -np 2 nccl_channel_check [--transport nccl|zmq] [--device cuda|cpu|cuda:N]
//                                   [--bytes 20MiB] [--iters 20] [--warmup 3]
//
// On the CUDA host (one GPU per rank, by local rank): --transport nccl (the
// default there); --transport zmq measures host staging for comparison, and
// with --device cuda:0 on both ranks, two ranks sharing one GPU. In CI it runs
// on the CPU over ZeroMQ at a tiny size. Exit status 0 only if every check passed.
#include <ATen/ATen.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "core/byte_size.h"
#include "core/device_memory.h"
#include "core/error.h"
#include "core/log.h"
#include "transport/backend_support.h"
#include "transport/membership.h"
#include "transport/nccl_channel.h"
#include "transport/tensor_codec.h"
#include "transport/zmq_channel.h"
#include "transport/zmq_node.h"

using namespace baton;
using namespace baton::transport;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string transport;  // nccl | zmq
  std::string device;     // cuda | cpu | cuda:N
  std::string bytes = "20MiB";
  int iters = 20;
  int warmup = 3;
};

void say(const char* format, ...) __attribute__((format(printf, 1, 2)));
void say(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::fflush(stdout);
}

double since_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Deterministic values that every dtype represents exactly.
at::Tensor pattern(c10::ScalarType dtype, const std::vector<int64_t>& shape, int64_t seed, const c10::Device& device) {
  int64_t numel = 1;
  for (auto s : shape) numel *= s;
  auto values = at::arange(numel, at::TensorOptions().dtype(at::kDouble).device(device)).add(seed);
  values = dtype == at::kBool ? values.remainder(2) : values.remainder(251);
  return values.to(dtype).reshape(shape);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

struct Check {
  Channel& channel;
  int rank;
  c10::Device device;
  int failures = 0;

  Deadline deadline() const { return Deadline::after(60s); }

  // One message from `from` to the other rank; the receiver checks it exactly.
  void one_way(int from, c10::ScalarType dtype, const std::vector<int64_t>& shape, int64_t seed) {
    if (rank == from) {
      Message m;
      m.header.set_request_id(seed);
      m.add("t", pattern(dtype, shape, seed, device));
      channel.send(m, deadline());
      return;
    }
    auto got = channel.receive(deadline());
    bool ok = got && got->header.request_id() == static_cast<uint64_t>(seed) && got->contains("t");
    if (ok) {
      const auto& t = got->tensor("t");
      ok = t.device() == device && t.scalar_type() == dtype && t.sizes().vec() == shape &&
           at::equal(t, pattern(dtype, shape, seed, device));
    }
    failures += ok ? 0 : 1;
    int64_t numel = 1;
    for (auto size : shape) numel *= size;
    say("  %-9s %-14s %10lld B  %d->%d  %s\n", wire_dtype_name(to_wire_dtype(dtype)).c_str(), shape_text(shape).c_str(),
        static_cast<long long>(numel * c10::elementSize(dtype)), from, 1 - from, ok ? "ok" : "WRONG");
  }

  void correctness() {
    if (rank == 1) say("# correctness: every tensor compared exactly at the receiver, both directions\n");
    const std::vector<c10::ScalarType> dtypes = {at::kFloat, at::kBFloat16, at::kHalf, at::kLong, at::kBool, at::kByte};
    const std::vector<std::vector<int64_t>> shapes = {{}, {0, 3}, {7}, {3, 5, 2}, {1, 2, 3, 4, 5}, {262144}};
    int64_t seed = 1;
    for (int from : {0, 1}) {
      for (auto dtype : dtypes) {
        for (const auto& shape : shapes) one_way(from, dtype, shape, seed++);
      }
    }
  }

  // `iters` messages of `bytes` from rank 0 back to back; rank 1 receives them
  // all, waits for the device, and acknowledges. Time: rank 0's send of the
  // first to the acknowledgement. Afterwards rank 1 checks every message.
  void stream(int64_t bytes, int iters, int warmup) {
    const int64_t n = std::max<int64_t>(1, bytes / 4);
    std::vector<at::Tensor> payloads;
    for (int i = 0; i < warmup + iters; ++i) payloads.push_back(pattern(at::kFloat, {n}, 1000 + i, device));
    Message ack;
    ack.add("ack", at::ones({1}));
    double elapsed = 0;
    std::vector<at::Tensor> received;
    for (int phase = 0; phase < 2; ++phase) {
      const int count = phase == 0 ? warmup : iters;
      const int offset = phase == 0 ? 0 : warmup;
      synchronize_device(device);
      const auto start = Clock::now();
      if (rank == 0) {
        for (int i = 0; i < count; ++i) {
          Message m;
          m.header.set_step(offset + i);
          m.add("payload", payloads[offset + i]);
          channel.send(m, deadline());
        }
        require(channel.receive(deadline()).has_value(), "no acknowledgement");
      } else {
        for (int i = 0; i < count; ++i) {
          auto m = channel.receive(deadline());
          require(m.has_value(), "the stream ended early");
          if (phase == 1) received.push_back(m->tensor("payload"));
        }
        synchronize_device(device);
        channel.send(ack, deadline());
      }
      if (phase == 1) elapsed = since_ms(start);
    }
    int wrong = 0;
    for (size_t i = 0; i < received.size(); ++i) wrong += at::equal(received[i], payloads[warmup + i]) ? 0 : 1;
    failures += wrong;
    if (rank == 0) {
      say("  stream    %12lld %6d %10.3f %12.2f\n", static_cast<long long>(n * 4), iters, elapsed / iters,
          n * 4.0 * iters / (elapsed * 1e6));
    } else {
      say("  stream    rank 1 checked %zu messages: %s\n", received.size(), wrong ? "WRONG" : "ok");
    }
  }

  // Round trips of `bytes` (rank 0 -> 1 -> 0), each checked at both ends.
  void ping_pong(int64_t bytes, int iters) {
    const int64_t n = std::max<int64_t>(1, bytes / 4);
    int wrong = 0;
    double elapsed = 0;
    for (int i = -1; i < iters; ++i) {  // i = -1: warm-up
      const auto value = pattern(at::kFloat, {n}, 5000 + i, device);
      synchronize_device(device);
      const auto start = Clock::now();
      if (rank == 0) {
        Message m;
        m.add("x", value);
        channel.send(m, deadline());
        auto back = channel.receive(deadline());
        synchronize_device(device);
        if (i >= 0) elapsed += since_ms(start);
        wrong += back && at::equal(back->tensor("x"), value) ? 0 : 1;
      } else {
        auto m = channel.receive(deadline());
        require(m.has_value(), "the ping-pong ended early");
        wrong += at::equal(m->tensor("x"), value) ? 0 : 1;
        channel.send(*m, deadline());
      }
    }
    failures += wrong;
    if (rank == 0) {
      say("  pingpong  %12lld %6d %10.3f %12.2f   %s\n", static_cast<long long>(n * 4), iters, elapsed / iters,
          2.0 * n * 4 * iters / (elapsed * 1e6), wrong ? "WRONG" : "ok");
    }
  }

  // Pipeline-like: rank 0 computes a result, sends it and computes the next;
  // the transfer of one overlaps the compute of the next. Compared with the
  // compute alone and the transfers alone. GPU only.
  void overlap(int64_t bytes, int iters) {
    const int64_t n = std::max<int64_t>(1, bytes / 4);
    auto a = at::randn({2048, 2048}, at::TensorOptions().device(device));
    auto compute = [&](int64_t i) {
      auto x = a;
      for (int k = 0; k < 8; ++k) x = at::matmul(x, a).div_(2048);
      return x.flatten().narrow(0, 0, std::min<int64_t>(n, x.numel())).add(static_cast<double>(i));
    };
    auto timed = [&](bool do_compute, bool do_send) {
      synchronize_device(device);
      const auto start = Clock::now();
      for (int i = 0; i < iters; ++i) {
        at::Tensor result =
            do_compute ? compute(i) : pattern(at::kFloat, {std::min<int64_t>(n, 2048 * 2048)}, i, device);
        if (do_send) {
          Message m;
          m.add("r", result);
          channel.send(m, deadline());
        }
      }
      synchronize_device(device);
      return since_ms(start);
    };
    auto receive_all = [&] {
      for (int i = 0; i < iters; ++i) require(channel.receive(deadline()).has_value(), "overlap: stream ended");
      synchronize_device(device);
    };
    double t_compute = 0, t_transfer = 0, t_both = 0;
    if (rank == 0) {
      timed(true, false);  // warm-up
      t_compute = timed(true, false);
      t_transfer = timed(false, true);
      require(channel.receive(deadline()).has_value(), "overlap: no acknowledgement");
      t_both = timed(true, true);
      require(channel.receive(deadline()).has_value(), "overlap: no acknowledgement");
      const double hidden = (t_compute + t_transfer - t_both) / std::min(t_compute, t_transfer);
      say("# overlap (%d results of %s): compute %.2f ms, transfer %.2f ms, both %.2f ms: %.0f%% of the shorter "
          "hidden\n",
          iters, format_byte_size(std::min<int64_t>(n, 2048 * 2048) * 4).c_str(), t_compute, t_transfer, t_both,
          100.0 * hidden);
    } else {
      Message ack;
      ack.add("ack", at::ones({1}));
      receive_all();
      channel.send(ack, deadline());
      receive_all();
      channel.send(ack, deadline());
    }
  }
};

int run(const Options& o, Membership& m) {
  require(m.size() == 2, "run under mpirun -np 2 (this job has " + std::to_string(m.size()) + " ranks)");
  const int rank = m.rank();
  const bool cuda = cuda_device_count() > 0;
  std::string device_name = o.device.empty() ? (cuda ? "cuda" : "cpu") : o.device;
  if (device_name == "cuda") device_name = "cuda:" + std::to_string(m.local_rank() % std::max(1, cuda_device_count()));
  const c10::Device device(device_name);
  const std::string transport =
      o.transport.empty() ? (nccl_transport_compiled() && cuda ? "nccl" : "zmq") : o.transport;
  require(transport == "nccl" || transport == "zmq", "--transport must be nccl or zmq");

  ZmqNodeOptions node_options;
  node_options.rank = rank;
  node_options.address = m.transport_address();
  ZmqNode node(node_options);
  const auto endpoints = m.allgather(node.endpoint());
  const int peer = 1 - rank;
  auto control = node.connect({peer, "check" + std::to_string(peer), endpoints[peer]}, device);
  handshake_all({control.get()}, make_hello("check", "check", wire::FLOAT32, rank, "check" + std::to_string(rank)),
                Deadline::after(60s));
  std::shared_ptr<Channel> channel = control;
  if (transport == "nccl") channel = make_nccl_channel(control, device, Deadline::after(120s));
  const auto devices = m.allgather(device.str());
  if (rank == 0) {
    say("# nccl_channel_check: transport %s, rank 0 on %s <-> rank 1 on %s, hosts %s / %s\n", channel->kind().c_str(),
        devices[0].c_str(), devices[1].c_str(), m.host_names()[0].c_str(), m.host_names()[1].c_str());
    say("# %s, %s\n", nccl_status().c_str(), zmq_status().c_str());
  }
  m.barrier();

  Check check{*channel, rank, device};
  check.correctness();
  m.barrier();
  const int64_t bytes = parse_byte_size(o.bytes);
  if (rank == 0) say("# %-8s %12s %6s %10s %12s\n", "phase", "size(B)", "iters", "time(ms)", "algbw(GB/s)");
  check.stream(bytes, o.iters, o.warmup);
  m.barrier();
  check.ping_pong(bytes, o.iters);
  m.barrier();
  if (device.is_cuda()) {
    check.overlap(bytes, o.iters);
    m.barrier();
  }
  channel->send_shutdown("done", Deadline::after(60s));
  require(!channel->receive(Deadline::after(60s)).has_value(), "expected the peer's Shutdown");
  const auto verdicts = m.allgather(std::to_string(check.failures));
  int total = 0;
  for (const auto& v : verdicts) total += std::stoi(v);
  if (rank == 0) say("# result: %s (%d wrong)\n", total == 0 ? "PASS" : "FAIL", total);
  return total == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  log::setup();
  CLI::App app{"Checks and times a baton data channel between two ranks (run under mpirun -np 2)"};
  Options o;
  app.add_option("--transport", o.transport, "nccl or zmq (default: nccl when built with it and on a GPU)");
  app.add_option("--device", o.device, "cuda (by local rank), cuda:N or cpu (default: cuda if present)");
  app.add_option("--bytes", o.bytes, "payload size for the timed phases")->capture_default_str();
  app.add_option("--iters", o.iters, "timed messages per phase")->capture_default_str();
  app.add_option("--warmup", o.warmup, "untimed messages before the stream phase")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<Membership> membership;
  try {
    membership = Membership::join();
    return run(o, *membership);
  } catch (const std::exception& e) {
    const auto* error = dynamic_cast<const Error*>(&e);
    const std::string message =
        std::string(e.what()) + (error && !error->hint().empty() ? " (" + error->hint() + ")" : "");
    if (membership && membership->distributed()) membership->abort("nccl_channel_check: " + message);
    std::fprintf(stderr, "nccl_channel_check: %s\n", message.c_str());
    return 1;
  }
}
