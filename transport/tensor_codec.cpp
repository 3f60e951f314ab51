#include "transport/tensor_codec.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace baton::transport {

wire::DType to_wire_dtype(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float:
      return wire::FLOAT32;
    case c10::ScalarType::BFloat16:
      return wire::BFLOAT16;
    case c10::ScalarType::Half:
      return wire::FLOAT16;
    case c10::ScalarType::Long:
      return wire::INT64;
    case c10::ScalarType::Bool:
      return wire::BOOL;
    case c10::ScalarType::Byte:
      return wire::UINT8;
    case c10::ScalarType::Int:
      return wire::INT32;
    case c10::ScalarType::Double:
      return wire::FLOAT64;
    default:
      throw Error(std::string("tensor dtype ") + c10::toString(dtype) + " cannot be sent",
                  "the wire carries float32, bfloat16, float16, float64, int64, int32, uint8 and bool");
  }
}

c10::ScalarType from_wire_dtype(wire::DType dtype) {
  switch (dtype) {
    case wire::FLOAT32:
      return c10::ScalarType::Float;
    case wire::BFLOAT16:
      return c10::ScalarType::BFloat16;
    case wire::FLOAT16:
      return c10::ScalarType::Half;
    case wire::INT64:
      return c10::ScalarType::Long;
    case wire::BOOL:
      return c10::ScalarType::Bool;
    case wire::UINT8:
      return c10::ScalarType::Byte;
    case wire::INT32:
      return c10::ScalarType::Int;
    case wire::FLOAT64:
      return c10::ScalarType::Double;
    default:
      throw Error("wire dtype " + wire_dtype_name(dtype) + " is not a tensor dtype");
  }
}

int64_t wire_itemsize(int dtype) {
  switch (dtype) {
    case wire::FLOAT32:
    case wire::INT32:
      return 4;
    case wire::BFLOAT16:
    case wire::FLOAT16:
      return 2;
    case wire::INT64:
    case wire::FLOAT64:
      return 8;
    case wire::BOOL:
    case wire::UINT8:
      return 1;
    default:
      return 0;
  }
}

std::string wire_dtype_name(int dtype) {
  switch (dtype) {
    case wire::FLOAT32:
      return "float32";
    case wire::BFLOAT16:
      return "bfloat16";
    case wire::FLOAT16:
      return "float16";
    case wire::INT64:
      return "int64";
    case wire::BOOL:
      return "bool";
    case wire::UINT8:
      return "uint8";
    case wire::INT32:
      return "int32";
    case wire::FLOAT64:
      return "float64";
    case wire::DTYPE_UNSPECIFIED:
      return "unspecified";
    default:
      return "dtype " + std::to_string(dtype);
  }
}

wire::TensorDescriptor describe_tensor(const std::string& name, const at::Tensor& tensor) {
  require(tensor.defined(), "tensor '" + name + "' is undefined and cannot be sent");
  wire::TensorDescriptor d;
  d.set_name(name);
  d.set_dtype(to_wire_dtype(tensor.scalar_type()));
  for (int64_t size : tensor.sizes()) d.add_shape(size);
  d.set_byte_length(static_cast<uint64_t>(tensor.numel()) * tensor.element_size());
  return d;
}

at::Tensor host_contiguous(const at::Tensor& tensor) {
  at::Tensor host = tensor.device().is_cpu() ? tensor : tensor.to(at::kCPU);
  return host.contiguous();
}

at::Tensor tensor_from_bytes(const wire::TensorDescriptor& d, const void* data, size_t size,
                             std::function<void(void*)> release) {
  // Whatever happens, the bytes are released exactly once (after any read of them).
  auto release_now = [&] {
    if (release) std::exchange(release, nullptr)(const_cast<void*>(data));
  };
  std::string refusal;
  const auto dtype = static_cast<wire::DType>(d.dtype());
  if (size != d.byte_length()) {
    refusal = "tensor '" + d.name() + "': payload frame has " + std::to_string(size) +
              " bytes, its descriptor declares " + std::to_string(d.byte_length());
  } else if (dtype == wire::BOOL) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < size && refusal.empty(); ++i) {
      if (bytes[i] > 1) {
        refusal = "tensor '" + d.name() + "': bool byte " + std::to_string(i) + " is " + std::to_string(bytes[i]) +
                  ", expected 0 or 1";
      }
    }
  }
  if (!refusal.empty()) {
    release_now();
    throw Error(refusal);
  }
  std::vector<int64_t> shape(d.shape().begin(), d.shape().end());
  auto options = at::TensorOptions().dtype(from_wire_dtype(dtype)).device(at::kCPU);
  const auto itemsize = static_cast<uintptr_t>(wire_itemsize(dtype));
  const bool aligned = reinterpret_cast<uintptr_t>(data) % itemsize == 0;
  if (release && aligned && size > 0) {
    return at::from_blob(const_cast<void*>(data), shape, std::exchange(release, nullptr), options);
  }
  at::Tensor out = at::empty(shape, options);
  if (size > 0) std::memcpy(out.data_ptr(), data, size);
  release_now();
  return out;
}

}  // namespace baton::transport
