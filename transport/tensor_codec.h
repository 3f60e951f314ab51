#pragma once
// Tensors on the wire: dtype mapping, descriptors, and raw little-endian
// C-contiguous bytes in both directions (docs/transport.md, Tensors).
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstddef>
#include <functional>
#include <string>

#include "transport/wire.pb.h"

namespace baton::transport {

// float32, bfloat16, float16, int64, bool, uint8, int32, float64; throws Error otherwise.
wire::DType to_wire_dtype(c10::ScalarType dtype);
c10::ScalarType from_wire_dtype(wire::DType dtype);
// Bytes per element; 0 for DTYPE_UNSPECIFIED and values outside the enum.
int64_t wire_itemsize(int dtype);
// "float32", ..., or "dtype 42" for a value outside the enum.
std::string wire_dtype_name(int dtype);

// The descriptor of `tensor` as it will be sent (its dtype, shape and byte length).
wire::TensorDescriptor describe_tensor(const std::string& name, const at::Tensor& tensor);

// A contiguous CPU tensor with the same values: the tensor itself when it
// already is one (no copy), otherwise a copy (from the GPU, or made contiguous).
at::Tensor host_contiguous(const at::Tensor& tensor);

// The tensor `descriptor` declares, over `size` bytes at `data`. The caller has
// checked the descriptor (check_envelope); this checks that `size` equals its
// byte length and that bool bytes are 0 or 1. With `release`, the tensor borrows
// the bytes without copying when they are aligned for the dtype and calls
// `release` when it is freed; otherwise (or without `release`) it copies them
// and calls `release` (if any) at once.
at::Tensor tensor_from_bytes(const wire::TensorDescriptor& descriptor, const void* data, size_t size,
                             std::function<void(void*)> release = {});

}  // namespace baton::transport
