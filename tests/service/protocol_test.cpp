// The service protocol's checks, the security helpers and the batch file
// and manifest, without a server.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "coordinator/batch_job.h"
#include "coordinator/batch_manifest.h"
#include "coordinator/service_protocol.h"
#include "coordinator/service_security.h"
#include "core/error.h"
#include "core/utf8.h"
#include "tests/service/background_process.h"
#include "tests/support/temp_dir.h"

namespace baton::coordinator {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string submit_bytes(const sampling::GenerationRequest& r, uint32_t version = kServiceProtocolVersion) {
  service::ClientMessage m;
  m.set_protocol_version(version);
  m.set_tag(3);
  *m.mutable_submit()->mutable_request() = to_parameters(r);
  return serialize(m);
}

TEST(ServiceProtocol, ParsesAValidSubmitAndRoundTripsTheRequest) {
  sampling::GenerationRequest r;
  r.prompt = "1girl, smile";
  r.negative_prompt = "blurry";
  r.width = 832;
  r.height = 1216;
  r.seed = 9007199254740991ull;
  const auto bytes = submit_bytes(r);
  const auto m = parse_client_message(bytes.data(), bytes.size());
  EXPECT_EQ(m.tag(), 3u);
  EXPECT_EQ(to_request(m.submit().request()).to_json(), r.to_json());
}

TEST(ServiceProtocol, RefusesEachKindOfBadFrameByName) {
  sampling::GenerationRequest r;
  r.prompt = "x";
  const std::string valid = submit_bytes(r);
  EXPECT_NE(error_of([&] { parse_client_message("\xff\xff\xff", 3); }).find("does not parse"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_client_message(valid.data(), valid.size() / 2); }).find("does not parse"),
            std::string::npos);
  const std::string v2 = submit_bytes(r, 2);
  EXPECT_NE(error_of([&] { parse_client_message(v2.data(), v2.size()); }).find("protocol version 2"), std::string::npos);
  std::string unknown = valid + std::string("\xa8\x06\x01", 3);  // field 101, varint 1
  EXPECT_NE(error_of([&] { parse_client_message(unknown.data(), unknown.size()); }).find("field 101"), std::string::npos);
  service::ClientMessage empty;
  empty.set_protocol_version(kServiceProtocolVersion);
  const auto e = serialize(empty);
  EXPECT_NE(error_of([&] { parse_client_message(e.data(), e.size()); }).find("no body"), std::string::npos);
  const std::string big(kMaxClientMessageBytes + 1, 'x');
  EXPECT_NE(error_of([&] { parse_client_message(big.data(), big.size()); }).find("above the limit"), std::string::npos);
}

TEST(ServiceProtocol, RefusesOutOfRangeParametersAndBadUtf8) {
  sampling::GenerationRequest r;
  auto p = to_parameters(r);
  p.set_width(1000);
  EXPECT_NE(error_of([&] { to_request(p); }).find("not a positive multiple of 16"), std::string::npos);
  p = to_parameters(r);
  p.set_steps(0);
  EXPECT_NE(error_of([&] { to_request(p); }).find("steps must be between 1 and 1000"), std::string::npos);
  p = to_parameters(r);
  p.set_cfg_scale(std::nan(""));
  EXPECT_NE(error_of([&] { to_request(p); }).find("cfg scale"), std::string::npos);
  p = to_parameters(r);
  p.set_prompt("bad \xc0\xaf utf-8");
  EXPECT_NE(error_of([&] { to_request(p); }).find("not valid UTF-8"), std::string::npos);
}

TEST(Utf8, FollowsRfc3629) {
  EXPECT_TRUE(is_utf8("plain, caf\xc3\xa9, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x98\x80"));
  for (const char* bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3", "\x80", "\xff"})
    EXPECT_FALSE(is_utf8(bad)) << bad;
}

TEST(ServiceSecurity, KnowsLoopbackEndpoints) {
  for (const char* e : {"tcp://127.0.0.1:7690", "tcp://127.1.2.3:*", "tcp://localhost:1", "tcp://[::1]:5", "ipc:///tmp/x"})
    EXPECT_TRUE(is_loopback_endpoint(e)) << e;
  for (const char* e : {"tcp://0.0.0.0:7690", "tcp://*:7690", "tcp://10.0.0.5:1", "tcp://myhost:1", "tcp://127.0.0.1.evil:1",
                        "tcp://eth0:7690"})
    EXPECT_FALSE(is_loopback_endpoint(e)) << e;
  EXPECT_NE(error_of([] { check_endpoint("http://x:1"); }).find("is not tcp://HOST:PORT"), std::string::npos);
  EXPECT_NE(error_of([] { check_endpoint("tcp://127.0.0.1"); }).find("is not tcp://HOST:PORT"), std::string::npos);
}

TEST(ServiceSecurity, KeyFilesRoundTripAndSecretsStayPrivate) {
  if (!curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  test::TempDir dir;
  const auto keys = make_curve_key_pair();
  const auto [key, pub] = write_curve_key_pair(dir.file("server"), keys);
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_curve_key_file(key).secret_key, keys.secret_key);
  EXPECT_EQ(read_curve_key_file(pub).secret_key, "");
  EXPECT_EQ(read_curve_key_file(pub).public_key, keys.public_key);
  EXPECT_NE(error_of([&] { write_curve_key_pair(dir.file("server"), keys); }).find("exists already"), std::string::npos);
  EXPECT_EQ(read_curve_public_keys(pub), std::vector<std::string>{keys.public_key});
  EXPECT_NE(error_of([&] { read_curve_public_keys(key); }).find("contains a secret key"), std::string::npos);
  std::ofstream(dir.file("bad.pub")) << "public-key = not-a-key\n";
  EXPECT_NE(error_of([&] { read_curve_key_file(dir.file("bad.pub")); }).find("not a CurveZMQ key"), std::string::npos);
}

TEST(ServiceSecurity, TokenFilesNeedAFewCharacters) {
  test::TempDir dir;
  write_token_file(dir.file("t"));
  EXPECT_EQ(read_token_file(dir.file("t")).size(), 64u);
  std::ofstream(dir.file("short")) << "abc\n";
  EXPECT_NE(error_of([&] { read_token_file(dir.file("short")); }).find("expected 16 to 255"), std::string::npos);
  ServerSecurity s;
  s.curve_key_file = "k";
  EXPECT_NE(error_of([&] { s.check(); }).find("needs --curve-clients"), std::string::npos);
  s.token_file = "t";
  EXPECT_NE(error_of([&] { s.check(); }).find("not both"), std::string::npos);
}

TEST(BatchFile, DerivesMissingSeedsFromTheLineNumberAndNamesBadLines) {
  test::TempDir dir;
  std::ofstream(dir.file("p.jsonl")) << "{\"prompt\": \"a\"}\n\n# comment\n{\"prompt\": \"b\", \"seed\": 5, \"steps\": 3}\n"
                                        "{\"prompt\": \"c\", \"negative\": \"n\"}\n";
  sampling::GenerationRequest defaults;
  defaults.steps = 7;
  defaults.negative_prompt = "default negative";
  const auto lines = read_batch_file(dir.file("p.jsonl"), defaults, 100);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].line, 1);
  EXPECT_EQ(lines[0].request.seed, 101u);
  EXPECT_EQ(lines[0].request.steps, 7);
  EXPECT_EQ(lines[0].request.negative_prompt, "default negative");
  EXPECT_EQ(lines[0].file, "000001-101.png");
  EXPECT_EQ(lines[1].line, 4);
  EXPECT_EQ(lines[1].request.seed, 5u);
  EXPECT_EQ(lines[1].request.steps, 3);
  EXPECT_EQ(lines[2].request.seed, 105u);
  EXPECT_EQ(lines[2].request.negative_prompt, "n");

  std::ofstream(dir.file("bad.jsonl")) << "{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"stepz\": 3}\n";
  EXPECT_NE(error_of([&] { read_batch_file(dir.file("bad.jsonl"), defaults, 0); }).find("line 2: unknown request field 'stepz'"),
            std::string::npos);
  std::ofstream(dir.file("notjson.jsonl")) << "{\"prompt\": \"a\"}\nprompt: b\n";
  EXPECT_NE(error_of([&] { read_batch_file(dir.file("notjson.jsonl"), defaults, 0); }).find("line 2 is not JSON"),
            std::string::npos);
}

TEST(BatchManifest, DropsAPartialLastLineAndKeepsTheRest) {
  test::TempDir dir;
  const std::string path = dir.file("manifest.jsonl");
  {
    BatchManifest m(path);
    m.append(nlohmann::json::object({{"line", 1}, {"file", "000001-1.png"}}));
    m.append(nlohmann::json::object({{"line", 3}, {"file", "000003-3.png"}}));
  }
  std::ofstream(path, std::ios::app) << "{\"line\": 4, \"fi";  // a kill in the middle of an append
  BatchManifest m(path);
  EXPECT_EQ(m.size(), 2u);
  ASSERT_NE(m.entry(3), nullptr);
  EXPECT_EQ(m.entry(3)->at("file"), "000003-3.png");
  EXPECT_EQ(m.entry(4), nullptr);
  m.append(nlohmann::json::object({{"line", 4}, {"file", "000004-4.png"}}));
  const std::string text = test::read_file(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_EQ(text.find("\"fi{"), std::string::npos) << text;
}

}  // namespace
}  // namespace baton::coordinator
