#include "models/text_input/token_ids.h"

#include "core/error.h"
#include "core/tensor_source.h"  // format_shape

namespace baton::models {

void check_token_ids(const at::Tensor& ids, int64_t vocab_size, const std::string& model) {
  require(ids.defined(), model + ": no input ids given");
  require(ids.dim() == 2, model + ": input ids must be [batch, length], got shape " + format_shape(ids.sizes().vec()));
  require(ids.size(0) > 0, model + ": empty batch (no sequences)", "pass at least one prompt");
  require(ids.size(1) > 0, model + ": empty sequences (length 0)", "every sequence needs at least one token");
  require(at::isIntegralType(ids.scalar_type(), /*includeBool=*/false),
          model + ": input ids must be integers, got " + std::string(c10::toString(ids.scalar_type())));
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  require(lo >= 0 && hi < vocab_size,
          model + ": token ids must be in [0, " + std::to_string(vocab_size) + "), found ids in [" +
              std::to_string(lo) + ", " + std::to_string(hi) + "]",
          "the tokenizer does not match the model's vocabulary");
}

std::vector<int64_t> check_right_padded_mask(const at::Tensor& mask, const at::Tensor& ids, const std::string& model) {
  require(mask.defined(), model + ": no attention mask given");
  require(mask.sizes() == ids.sizes(), model + ": attention mask has shape " + format_shape(mask.sizes().vec()) +
                                           ", expected the ids' shape " + format_shape(ids.sizes().vec()));
  auto m = mask.to(at::kCPU).to(at::kLong).contiguous();
  require(m.min().item<int64_t>() >= 0 && m.max().item<int64_t>() <= 1, model + ": attention mask values must be 0 or 1");
  auto lengths = m.sum(1);
  auto expected = at::arange(m.size(1), m.options()).unsqueeze(0) < lengths.unsqueeze(1);
  require(at::equal(expected.to(at::kLong), m),
          model + ": attention mask is not right padded (every row must be 1...1 then 0...0)",
          "tokenize with padding on the right");
  require(lengths.min().item<int64_t>() > 0, model + ": a sequence has no real token (its attention mask is all 0)");
  return std::vector<int64_t>(lengths.data_ptr<int64_t>(), lengths.data_ptr<int64_t>() + lengths.numel());
}

}  // namespace baton::models
