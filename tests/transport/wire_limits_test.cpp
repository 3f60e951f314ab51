// The wire schema's checks: every size is checked against the schema and a
// bound before anything is allocated, and each refusal names the problem.
#include "transport/wire_limits.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "transport/tensor_codec.h"
#include "transport/zmq_frames.h"

using namespace baton;
using namespace baton::transport;

namespace {

wire::Envelope microbatch_with(const std::vector<wire::TensorDescriptor>& descriptors) {
  wire::Envelope e;
  e.set_protocol_version(kProtocolVersion);
  auto* m = e.mutable_microbatch();
  m->set_request_id(7);
  m->set_step(3);
  m->set_branch(wire::COND);
  for (const auto& d : descriptors) *m->add_tensors() = d;
  return e;
}

wire::TensorDescriptor descriptor(const std::string& name, wire::DType dtype, std::vector<int64_t> shape,
                                  uint64_t bytes) {
  wire::TensorDescriptor d;
  d.set_name(name);
  d.set_dtype(dtype);
  for (auto s : shape) d.add_shape(s);
  d.set_byte_length(bytes);
  return d;
}

std::string refusal(const wire::Envelope& e, const WireLimits& limits = {}) {
  try {
    check_envelope(e, limits);
  } catch (const Error& error) {
    return error.what();
  }
  return "accepted";
}

std::string parse_refusal(const std::string& bytes, const WireLimits& limits = {}) {
  try {
    parse_envelope(bytes.data(), bytes.size(), limits);
  } catch (const Error& error) {
    return error.what();
  }
  return "accepted";
}

}  // namespace

TEST(WireLimits, AcceptsAWellFormedMicrobatch) {
  auto e = microbatch_with({descriptor("latent", wire::FLOAT32, {1, 16, 8, 8}, 4 * 16 * 64),
                            descriptor("mask", wire::BOOL, {5}, 5), descriptor("scalar", wire::INT64, {}, 8)});
  EXPECT_EQ(refusal(e), "accepted");
  EXPECT_EQ(declared_payload_bytes(e), 4 * 16 * 64 + 5 + 8);
}

TEST(WireLimits, RefusesByteLengthsThatDisagreeWithDtypeAndShape) {
  EXPECT_EQ(refusal(microbatch_with({descriptor("x", wire::BFLOAT16, {3, 4}, 48)})),
            "tensor 'x' declares 48 bytes, but bfloat16 x 12 elements is 24");
}

TEST(WireLimits, RefusesSizesBeyondTheLimits) {
  WireLimits limits;
  limits.max_tensors_per_message = 2;
  limits.max_tensor_rank = 3;
  limits.max_tensor_elements = 1000;
  limits.max_message_bytes = 4000;
  auto d = descriptor("a", wire::FLOAT32, {10}, 40);
  EXPECT_EQ(refusal(microbatch_with({d, descriptor("b", wire::FLOAT32, {1}, 4), descriptor("c", wire::INT64, {1}, 8)}),
                    limits),
            "message has 3 tensors, the limit is 2");
  EXPECT_EQ(refusal(microbatch_with({descriptor("r", wire::FLOAT32, {1, 1, 1, 1}, 4)}), limits),
            "tensor 'r' has 4 dimensions, the limit is 3");
  EXPECT_EQ(refusal(microbatch_with({descriptor("big", wire::UINT8, {10, 200}, 2000)}), limits),
            "tensor 'big' has more than 1000 elements (the limit)");
  EXPECT_EQ(refusal(microbatch_with(
                        {descriptor("p", wire::FLOAT32, {900}, 3600), descriptor("q", wire::FLOAT32, {900}, 3600)}),
                    limits),
            "message payloads exceed 4000 bytes (the limit)");
  // A product that would overflow int64 is refused before it is formed.
  EXPECT_EQ(refusal(microbatch_with({descriptor("o", wire::FLOAT32, {int64_t(1) << 40, int64_t(1) << 40}, 0)})),
            "tensor 'o' has more than 1073741824 elements (the limit)");
  EXPECT_EQ(refusal(microbatch_with({descriptor("n", wire::FLOAT32, {2, -1}, 0)})),
            "tensor 'n' has a negative size -1 in dimension 1");
}

TEST(WireLimits, RefusesBadNamesAndDtypes) {
  EXPECT_EQ(refusal(microbatch_with({descriptor("", wire::FLOAT32, {1}, 4)})), "tensor 0 has an empty name");
  EXPECT_EQ(refusal(microbatch_with({descriptor("a b", wire::FLOAT32, {1}, 4)})),
            "tensor 0 name has a character outside [A-Za-z0-9_.:/-]");
  EXPECT_EQ(refusal(microbatch_with({descriptor("x", wire::FLOAT32, {1}, 4), descriptor("x", wire::FLOAT32, {1}, 4)})),
            "tensor name 'x' appears twice");
  EXPECT_EQ(refusal(microbatch_with({descriptor("u", wire::DTYPE_UNSPECIFIED, {1}, 4)})),
            "tensor 'u' has unspecified, expected a tensor dtype");
  EXPECT_EQ(refusal(microbatch_with({descriptor("e", static_cast<wire::DType>(42), {1}, 4)})),
            "tensor 'e' has dtype 42, expected a tensor dtype");
}

TEST(WireLimits, RefusesWrongVersionsEmptyBodiesAndUnknownFields) {
  auto e = microbatch_with({});
  e.set_protocol_version(9);
  EXPECT_EQ(refusal(e), "protocol version 9, this build speaks 1");
  wire::Envelope empty;
  empty.set_protocol_version(kProtocolVersion);
  EXPECT_EQ(refusal(empty), "envelope has no body (or one this build does not know)");

  // A field number this schema does not have (field 99, varint 5), inside the descriptor.
  auto with_unknown = microbatch_with({descriptor("x", wire::FLOAT32, {1}, 4)});
  with_unknown.mutable_microbatch()
      ->mutable_tensors(0)
      ->GetReflection()
      ->MutableUnknownFields(with_unknown.mutable_microbatch()->mutable_tensors(0))
      ->AddVarint(99, 5);
  EXPECT_EQ(parse_refusal(with_unknown.SerializeAsString()),
            "header has an unknown Envelope.microbatch.tensors[0] field 99");
}

TEST(WireLimits, RefusesGarbageTruncatedAndOversizedHeaders) {
  WireLimits limits;
  limits.max_header_bytes = 64;
  EXPECT_EQ(parse_refusal(std::string(65, 'x'), limits), "header frame has 65 bytes, the limit is 64");
  EXPECT_EQ(parse_refusal(""), "header frame is empty");
  EXPECT_EQ(parse_refusal("\xff\xff\xff\xff\xff"), "header frame is not a valid Envelope");
  const std::string valid = microbatch_with({descriptor("x", wire::FLOAT32, {2, 2}, 16)}).SerializeAsString();
  EXPECT_EQ(parse_refusal(valid), "accepted");
  EXPECT_EQ(parse_refusal(valid.substr(0, valid.size() - 3)), "header frame is not a valid Envelope");
}

TEST(WireLimits, ChecksControlMessages) {
  wire::Envelope e;
  e.set_protocol_version(kProtocolVersion);
  e.mutable_hello()->set_rank(-1);
  EXPECT_EQ(refusal(e), "Hello rank is -1, expected 0..65535");
  e.mutable_nccl_setup()->set_unique_id(std::string(12, 'x'));
  EXPECT_EQ(refusal(e), "NcclSetup unique_id has 12 bytes, expected 128");
  WireLimits limits;
  limits.max_text_bytes = 10;
  e.mutable_error_report()->set_message(std::string(11, 'm'));
  EXPECT_EQ(refusal(e, limits), "ErrorReport message has 11 bytes, the limit is 10");
  e.set_payload_out_of_band(true);
  EXPECT_EQ(refusal(e), "only a MicrobatchHeader may have out-of-band payloads");
}

TEST(ZmqFrames, RoundTripsEveryDtypeAndRank) {
  const std::vector<at::Tensor> tensors = {at::randn({2, 3, 4}),
                                           at::randn({5}).to(at::kBFloat16),
                                           at::randn({3, 1, 2, 1}).to(at::kHalf),
                                           at::arange(-6, 6, at::kLong).reshape({3, 4}),
                                           at::tensor({1, 0, 1}).to(at::kBool),
                                           at::scalar_tensor(2.5),
                                           at::empty({0, 7}),
                                           at::arange(0, 256, at::kLong).to(at::kByte),
                                           at::arange(0, 9, at::kInt).t()};
  Packet packet;
  packet.envelope = microbatch_with({});
  for (size_t i = 0; i < tensors.size(); ++i) {
    *packet.envelope.mutable_microbatch()->add_tensors() = describe_tensor("t" + std::to_string(i), tensors[i]);
    packet.tensors.push_back(tensors[i]);
  }
  auto decoded = decode_frames(encode_frames(packet), WireLimits{});
  ASSERT_EQ(decoded.tensors.size(), tensors.size());
  EXPECT_EQ(decoded.envelope.microbatch().request_id(), 7u);
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(decoded.tensors[i].scalar_type(), tensors[i].scalar_type()) << i;
    EXPECT_EQ(decoded.tensors[i].sizes(), tensors[i].sizes()) << i;
    EXPECT_TRUE(at::equal(decoded.tensors[i], tensors[i])) << i;
  }
}

TEST(ZmqFrames, RefusesFramesThatDisagreeWithTheHeader) {
  Packet packet;
  packet.envelope = microbatch_with({});
  at::Tensor x = at::ones({4});
  *packet.envelope.mutable_microbatch()->add_tensors() = describe_tensor("x", x);
  packet.tensors.push_back(x);

  auto frames = encode_frames(packet);
  frames.emplace_back(3);  // one frame too many
  try {
    decode_frames(std::move(frames), WireLimits{});
    FAIL() << "accepted an extra frame";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "message has 3 frames, its MicrobatchHeader header calls for 2");
  }

  frames = encode_frames(packet);
  frames[1] = zmq::message_t(12);  // 12 bytes where 16 are declared
  try {
    decode_frames(std::move(frames), WireLimits{});
    FAIL() << "accepted a short payload";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "tensor 'x': payload frame has 12 bytes, its descriptor declares 16");
  }

  Packet flags;
  flags.envelope = microbatch_with({});
  *flags.envelope.mutable_microbatch()->add_tensors() = describe_tensor("b", at::zeros({2}, at::kBool));
  flags.tensors.push_back(at::zeros({2}, at::kBool));
  frames = encode_frames(flags);
  frames[1] = zmq::message_t("\x00\x07", 2);
  try {
    decode_frames(std::move(frames), WireLimits{});
    FAIL() << "accepted a bool byte of 7";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "tensor 'b': bool byte 1 is 7, expected 0 or 1");
  }
}
