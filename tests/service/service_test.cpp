// `baton serve` end to end on the demo model: concurrent submits, cancel,
// status and list, results equal to generate's, a flood of malformed frames,
// and authentication. Servers bind 127.0.0.1 on a free port and always stop.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <limits>
#include <random>
#include <regex>
#include <thread>
#include <zmq.hpp>

#include "coordinator/service_client.h"
#include "coordinator/service_protocol.h"
#include "io/png_image.h"
#include "tests/service/background_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {

// Every test gets its own cache, so the demo model is made (and reused) inside it.
std::string env_in(const TempDir& dir) { return "BATON_CACHE_DIR=" + dir.file("cache") + " BATON_LOG_LEVEL=info"; }
std::string baton_in(const TempDir& dir) { return env_in(dir) + " " + baton_command(); }

const char* kServeArgs = "--model demo --listen tcp://127.0.0.1:* --max-width 64 --max-height 64";
const char* kSmall = " --width 64 --height 48 --steps 3 --no-progress";

// Five concurrent submits, a cancel, status and list, and the same bytes as
// `baton generate` (one process) for the same seeds; the server runs after
// `launcher` (empty, or mpirun). One intra-op thread everywhere, so CPU
// kernels sum alike in every process layout (docs/distributed.md).
void five_submits_a_cancel_status_and_list(const std::string& launcher, const std::string& launcher_env) {
  TempDir dir;
  ServerProcess server(env_in(dir) + " OMP_NUM_THREADS=1 " + launcher_env,
                       std::string(kServeArgs) + " --queue-limit 16 --max-in-flight 2", dir.file("serve.log"), launcher);
  const std::string client = "OMP_NUM_THREADS=1 " + baton_in(dir) + " ";
  const std::string at = " --endpoint " + server.endpoint();

  // A long job, to be cancelled while the five others run.
  auto detached = run_command(client + "submit" + at +
                              " --detach --prompt 'to be cancelled' --seed 99 --width 64 --height 48 --steps 1000 "
                              "--no-progress");
  ASSERT_EQ(detached.exit_code, 0) << detached.output << server.log();
  std::smatch id_match;
  ASSERT_TRUE(std::regex_search(detached.output, id_match, std::regex("(^|\\n)(\\d+)\\n"))) << detached.output;
  const std::string cancel_id = id_match[2];

  std::string script;
  for (int i = 1; i <= 5; ++i)
    script += "(" + client + "submit" + at + " --prompt \"prompt " + std::to_string(i) + "\" --seed " +
              std::to_string(10 + i) + kSmall + " -o " + dir.file("s" + std::to_string(i) + ".png") + " >" +
              dir.file("s" + std::to_string(i) + ".log") + " 2>&1; echo $? >" + dir.file("s" + std::to_string(i) + ".rc") +
              ") & ";
  script += client + "cancel" + at + " " + cancel_id + "; wait";
  auto both = run_command(script, 240);
  ASSERT_EQ(both.exit_code, 0) << both.output << server.log();
  EXPECT_TRUE(std::regex_search(both.output, std::regex("job " + cancel_id + " cancelled \\(it was (running|queued)\\)")))
      << both.output;
  for (int i = 1; i <= 5; ++i)
    EXPECT_EQ(read_file(dir.file("s" + std::to_string(i) + ".rc")), "0\n")
        << read_file(dir.file("s" + std::to_string(i) + ".log")) << server.log();

  auto status = run_command(client + "status" + at + " " + cancel_id);
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("job " + cancel_id + ": cancelled"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("prompt    to be cancelled"), std::string::npos) << status.output;
  auto list = run_command(client + "status" + at);
  EXPECT_EQ(list.exit_code, 0) << list.output;
  const std::string table = list.output;
  const auto count = [&](const std::string& pattern) {
    const std::regex re(pattern);
    return std::distance(std::sregex_iterator(table.begin(), table.end(), re), std::sregex_iterator());
  };
  EXPECT_EQ(count("\\d+  done +3/3 .*prompt \\d"), 5) << table;
  EXPECT_EQ(count("\\d+  cancelled .*to be cancelled"), 1) << table;
  auto again = run_command(client + "cancel" + at + " " + cancel_id);
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("has ended already (cancelled)"), std::string::npos) << again.output;

  // The same prompts and seeds through generate: the same pixels (and, in one
  // process, the same bytes: under mpirun the recipe names the ranks' devices).
  std::ofstream(dir.file("prompts.txt")) << "prompt 1\nprompt 2\nprompt 3\nprompt 4\nprompt 5\n";
  auto generated = run_command(client + "generate --model demo --prompt-file " + dir.file("prompts.txt") + " --seed 11" +
                               kSmall + " -o " + dir.file("generated"));
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  for (int i = 1; i <= 5; ++i) {
    const std::string served = dir.file("s" + std::to_string(i) + ".png");
    const std::string made = dir.file("generated/newbie-00" + std::to_string(i) + "-" + std::to_string(10 + i) + ".png");
    ASSERT_FALSE(read_file(served).empty()) << i;
    EXPECT_EQ(io::read_png(served).image.pixels, io::read_png(made).image.pixels) << "prompt " << i;
    if (launcher.empty()) EXPECT_EQ(read_file(served), read_file(made)) << "prompt " << i;
  }
  // Open MPI's mpirun exits 1 whenever it forwarded a stop signal, even after
  // a clean end: there the server's own last line says it.
  const int stop_status = server.stop();
  if (launcher.empty()) EXPECT_EQ(stop_status, 0) << server.log();
  EXPECT_TRUE(std::regex_search(server.log(), std::regex("serve: stopped \\(\\d+ requests answered, 0 refused\\)")))
      << server.log();
  EXPECT_EQ(server.log().find("[error]"), std::string::npos) << server.log();
}

TEST(Serve, FiveConcurrentSubmitsACancelStatusAndListAndTheSameBytesAsGenerate) {
  five_submits_a_cancel_status_and_list("", "");
}

// One frame, `bytes`, from a fresh socket or the given one.
void send_frames(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (size_t i = 0; i < frames.size(); ++i)
    s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

size_t drain(zmq::socket_t& s, size_t& errors) {
  size_t n = 0;
  zmq::message_t m;
  while (s.recv(m, zmq::recv_flags::dontwait)) {
    ++n;
    service::ServerMessage reply;
    if (reply.ParseFromArray(m.data(), static_cast<int>(m.size())) && reply.has_error()) ++errors;
  }
  return n;
}

TEST(Serve, KeepsServingThrough10000MalformedFramesThenAnswersAValidRequest) {
  using coordinator::kServiceProtocolVersion;
  TempDir dir;
  ServerProcess server(env_in(dir), kServeArgs, dir.file("serve.log"));
  const auto start = std::chrono::steady_clock::now();
  zmq::context_t context;
  zmq::socket_t s(context, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::rcvhwm, 0);  // keep every reply until we read it
  s.connect(server.endpoint());

  sampling::GenerationRequest r;
  r.prompt = "fuzz";
  service::ClientMessage valid;
  valid.set_protocol_version(kServiceProtocolVersion);
  valid.set_tag(1);
  *valid.mutable_submit()->mutable_request() = coordinator::to_parameters(r);
  const std::string valid_bytes = coordinator::serialize(valid);

  std::mt19937 rng(1234);
  const auto random_bytes = [&](size_t n) {
    std::string b(n, '\0');
    for (auto& c : b) c = static_cast<char>(rng());
    return b;
  };
  size_t sent = 0, errors = 0, replies = 0;
  for (int i = 0; i < 10000; ++i) {
    std::vector<std::string> frames;
    switch (i % 8) {
      case 0: frames = {random_bytes(rng() % 300)}; break;
      case 1: frames = {valid_bytes.substr(0, rng() % valid_bytes.size())}; break;  // truncated
      case 2: {
        auto m = valid;
        m.set_protocol_version(2 + rng() % 1000);  // another version
        frames = {coordinator::serialize(m)};
        break;
      }
      case 3: frames = {valid_bytes + std::string("\xa8\x06", 2) + char(rng() % 100)}; break;  // unknown field 101
      case 4: frames = {valid_bytes, random_bytes(rng() % 40)}; break;                          // two frames
      case 5: {
        auto m = valid;  // out of range: size, steps, cfg or text
        auto* p = m.mutable_submit()->mutable_request();
        switch (rng() % 5) {
          case 0: p->set_width(16 * (rng() % 100) + 1 + rng() % 15); break;
          case 1: p->set_steps(-static_cast<int64_t>(rng() % 100)); break;
          case 2: p->set_cfg_scale(std::numeric_limits<double>::infinity()); break;
          case 3: p->set_prompt("\xff\xfe"); break;
          case 4: p->set_width(4096); break;  // above the planned --max-width
        }
        frames = {coordinator::serialize(m)};
        break;
      }
      case 6: frames = {std::string()}; break;  // an empty frame
      case 7: {
        std::string flipped = valid_bytes;  // bit flips in the framing bytes
        flipped[rng() % 8] ^= static_cast<char>(1 << (rng() % 8));
        flipped[flipped.size() - 1 - rng() % 8] ^= static_cast<char>(1 << (rng() % 8));
        frames = {flipped};
        break;
      }
    }
    send_frames(s, frames);
    ++sent;
    // In steps of 100: the server never blocks on a slow reader (it drops
    // what a full queue cannot take), so the test reads as it goes.
    if (sent % 100 == 0) {
      const auto step_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (replies < sent && std::chrono::steady_clock::now() < step_until) {
        replies += drain(s, errors);
        if (replies < sent) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }
  // Oversized frames: the server drops the connection before reading them.
  {
    zmq::socket_t big(context, zmq::socket_type::dealer);
    big.set(zmq::sockopt::linger, 0);
    big.connect(server.endpoint());
    for (int i = 0; i < 3; ++i) send_frames(big, {std::string((256 << 10) + 1 + i, 'x')});
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (replies < sent && std::chrono::steady_clock::now() < until) {
    replies += drain(s, errors);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Bit flips can make a valid message of another kind (a list, a status of
  // job 0): those are answered too, not as errors.
  EXPECT_EQ(replies, sent) << server.log();
  EXPECT_GE(errors, sent * 7 / 8 - 10) << server.log();
  const double fuzz_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(fuzz_seconds, 30.0);

  coordinator::ServiceClient client(server.endpoint(), {}, std::chrono::seconds(60));
  r.width = 64;
  r.height = 48;
  r.steps = 2;
  r.seed = 3;
  const uint64_t id = client.submit(r, true, true);
  std::string png;
  client.wait({id}, true, [&](const service::JobEvent& e) {
    if (e.kind() == service::JobEvent::DONE) png = e.png();
    else if (e.kind() != service::JobEvent::STARTED && e.kind() != service::JobEvent::PROGRESS)
      ADD_FAILURE() << "job ended " << e.kind() << ": " << e.error();
  });
  ASSERT_FALSE(png.empty());
  EXPECT_EQ(io::decode_png(reinterpret_cast<const uint8_t*>(png.data()), png.size()).image.width, 64);
  EXPECT_EQ(server.stop(), 0) << server.log();
  std::smatch m;
  const std::string log = server.log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("stopped \\((\\d+) requests answered, (\\d+) refused\\)"))) << log;
  // Every frame was read and answered (a few bit flips make valid queries).
  EXPECT_GE(std::stoul(m[1]) + std::stoul(m[2]), sent + 2) << log;  // + the submit and the watch
  EXPECT_GE(std::stoul(m[2]), sent * 3 / 4) << log;
}

TEST(Serve, RefusesANonLoopbackAddressWithoutCredentials) {
  TempDir dir;
  for (const char* endpoint : {"tcp://0.0.0.0:7690", "tcp://*:7690", "tcp://example.com:7690"}) {
    auto r = run_command(baton_in(dir) + " serve --model demo --listen " + endpoint, 60);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(std::string("refusing to listen on ") + endpoint + " without authentication"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("baton keygen"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("making the demo model"), std::string::npos) << "refused before loading: " << r.output;
  }
}

TEST(Serve, TokenAuthenticationAdmitsTheTokenAndRefusesOthers) {
  TempDir dir;
  ASSERT_EQ(run_command(baton_command() + " keygen --token " + dir.file("serve.token")).exit_code, 0);
  ASSERT_EQ(run_command(baton_command() + " keygen --token " + dir.file("other.token")).exit_code, 0);
  ServerProcess server(env_in(dir), std::string(kServeArgs) + " --token-file " + dir.file("serve.token"),
                       dir.file("serve.log"));
  const std::string status = baton_in(dir) + " status --timeout 5 --endpoint " + server.endpoint();
  auto good = run_command(status + " --token-file " + dir.file("serve.token"));
  EXPECT_EQ(good.exit_code, 0) << good.output;
  EXPECT_NE(good.output.find("no jobs"), std::string::npos) << good.output;
  auto wrong = run_command(status + " --token-file " + dir.file("other.token"));
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("refused our credentials"), std::string::npos) << wrong.output;
  auto none = run_command(status);
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_NE(none.output.find("security handshake"), std::string::npos) << none.output;
  EXPECT_NE(server.log().find("refused a connection"), std::string::npos) << server.log();
}

TEST(Serve, CurveAuthenticationAdmitsListedKeysOnly) {
  TempDir dir;
  for (const char* name : {"server", "alice", "mallory"})
    ASSERT_EQ(run_command(baton_command() + " keygen " + dir.file(name)).exit_code, 0);
  ServerProcess server(env_in(dir),
                       std::string(kServeArgs) + " --curve-key " + dir.file("server.key") + " --curve-clients " +
                           dir.file("alice.pub"),
                       dir.file("serve.log"));
  EXPECT_NE(server.log().find("authentication: curve"), std::string::npos) << server.log();
  const std::string status = baton_in(dir) + " status --timeout 5 --endpoint " + server.endpoint();
  auto alice = run_command(status + " --curve-key " + dir.file("alice.key") + " --server-key " + dir.file("server.pub"));
  EXPECT_EQ(alice.exit_code, 0) << alice.output;
  EXPECT_NE(alice.output.find("no jobs"), std::string::npos) << alice.output;
  auto mallory =
      run_command(status + " --curve-key " + dir.file("mallory.key") + " --server-key " + dir.file("server.pub"));
  EXPECT_EQ(mallory.exit_code, 1) << mallory.output;
  EXPECT_NE(mallory.output.find("refused our credentials"), std::string::npos) << mallory.output;
  auto none = run_command(status);
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_NE(none.output.find("security handshake"), std::string::npos) << none.output;
}

TEST(Serve, BusyWhenTheQueueIsFullAndClearErrorsForBadRequests) {
  TempDir dir;
  ServerProcess server(env_in(dir), std::string(kServeArgs) + " --queue-limit 1", dir.file("serve.log"));
  const std::string submit = baton_in(dir) + " submit --endpoint " + server.endpoint();
  auto first = run_command(submit + " --detach --prompt long --seed 1 --width 64 --height 48 --steps 1000 --no-progress");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto busy = run_command(submit + " --detach --prompt second --seed 2" + kSmall);
  EXPECT_EQ(busy.exit_code, 1) << busy.output;
  EXPECT_NE(busy.output.find("is busy: 1 of 1 jobs are queued or running"), std::string::npos) << busy.output;
  auto large = run_command(submit + " --prompt x --seed 2 --width 128 --height 48 --steps 2 --no-progress");
  EXPECT_EQ(large.exit_code, 2) << large.output;
  EXPECT_NE(large.output.find("larger than this pipeline was planned for (64x64)"), std::string::npos) << large.output;
  auto unknown = run_command(baton_in(dir) + " status 12345 --endpoint " + server.endpoint());
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("no job 12345 on this server"), std::string::npos) << unknown.output;
  // The detached job, waited for and fetched later (the server holds its result).
  auto fetched = run_command(baton_in(dir) + " status 1 --wait --no-progress --endpoint " + server.endpoint() + " -o " +
                             dir.file("long.png"), 120);
  EXPECT_EQ(fetched.exit_code, 0) << fetched.output;
  EXPECT_EQ(io::read_png(dir.file("long.png")).image.height, 48) << fetched.output;
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST(Serve, ClientWithoutAServerFailsWithinItsTimeout) {
  TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  auto r = run_command(baton_in(dir) + " status --timeout 1 --endpoint tcp://127.0.0.1:9", 30);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no answer from tcp://127.0.0.1:9 within 1 s"), std::string::npos) << r.output;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

#ifdef BATON_MPIEXEC
// The same under `mpirun -np 3` (text, DiT and VAE stages on three ranks over
// ZeroMQ; rank 0 also serves the endpoint).
TEST(Serve, UnderMpirunWithThreeRanksAnswersLikeOneProcess) {
  five_submits_a_cancel_status_and_list(std::string(BATON_MPIEXEC) + " -np 3 --oversubscribe",
                                        "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1");
}
#endif

}  // namespace
}  // namespace baton::test
