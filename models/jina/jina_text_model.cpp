#include "models/jina/jina_text_model.h"

#include <cmath>

#include "core/error.h"
#include "core/torch_compat.h"
#include "models/jina/jina_lora.h"
#include "models/rotary/rotate_half_rope.h"
#include "models/text_input/token_ids.h"

namespace baton::models {

struct JinaTextModel::Layer {
  at::Tensor wqkv, bqkv, wout, bout, w1, b1, w2, b2;
  at::Tensor norm1_w, norm1_b, norm2_w, norm2_b;
};

JinaTextModel::JinaTextModel(const JinaConfig& config, const TensorSource& weights, const at::TensorOptions& options)
    : config_(config), options_(options) {
  config_.validate();
  require(at::isFloatingType(options.dtype().toScalarType()), "Jina compute dtype must be a floating type");
  const auto shapes = jina_tensor_shapes(config_);
  auto plain = [&](const std::string& name) { return weights.load_checked(name, shapes.at(name), options_); };
  auto merged = [&](const std::string& module, JinaLoraKind kind) {
    return load_jina_weight(config_, weights, module, shapes.at(module + ".weight"), kind, options_);
  };
  word_embeddings_ = merged("embeddings.word_embeddings", JinaLoraKind::embedding);
  // Every token has token type 0 (spec D.2): only row 0 is ever added.
  token_type_row_ = merged("embeddings.token_type_embeddings", JinaLoraKind::embedding)[0].clone();
  emb_ln_w_ = plain("emb_ln.weight");
  emb_ln_b_ = plain("emb_ln.bias");
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    Layer l;
    l.wqkv = merged(p + "mixer.Wqkv", JinaLoraKind::linear);
    l.bqkv = plain(p + "mixer.Wqkv.bias");
    l.wout = merged(p + "mixer.out_proj", JinaLoraKind::linear);
    l.bout = plain(p + "mixer.out_proj.bias");
    l.w1 = merged(p + "mlp.fc1", JinaLoraKind::linear);
    l.b1 = plain(p + "mlp.fc1.bias");
    l.w2 = merged(p + "mlp.fc2", JinaLoraKind::linear);
    l.b2 = plain(p + "mlp.fc2.bias");
    l.norm1_w = plain(p + "norm1.weight");
    l.norm1_b = plain(p + "norm1.bias");
    l.norm2_w = plain(p + "norm2.weight");
    l.norm2_b = plain(p + "norm2.bias");
    layers_.push_back(std::move(l));
  }
}

JinaTextModel::~JinaTextModel() = default;
JinaTextModel::JinaTextModel(JinaTextModel&&) noexcept = default;
JinaTextModel& JinaTextModel::operator=(JinaTextModel&&) noexcept = default;

int64_t JinaTextModel::weight_bytes() const {
  int64_t n = 0;
  for (const auto* t : {&word_embeddings_, &token_type_row_, &emb_ln_w_, &emb_ln_b_}) n += t->nbytes();
  for (const auto& l : layers_)
    for (const auto* t : {&l.wqkv, &l.bqkv, &l.wout, &l.bout, &l.w1, &l.b1, &l.w2, &l.b2, &l.norm1_w, &l.norm1_b,
                          &l.norm2_w, &l.norm2_b})
      n += t->nbytes();
  return n;
}

at::Tensor JinaTextModel::last_hidden_state(const at::Tensor& input_ids) const {
  check_token_ids(input_ids, config_.vocab_size, "Jina");
  const auto dev = options_.device();
  auto ids = input_ids.to(dev).to(at::kLong);
  auto real = ids.ne(config_.pad_token_id);  // spec D.2: the mask comes from the pad id
  require(real.any(1).all().item<bool>(), "Jina: a sequence consists only of pad tokens (id " +
                                              std::to_string(config_.pad_token_id) + ")",
          "every sequence needs at least <s> and </s>");

  const int64_t B = ids.size(0), L = ids.size(1), H = config_.hidden_size;
  const int64_t heads = config_.num_attention_heads, D = config_.head_dim();
  const double eps = config_.layer_norm_eps;
  const auto rope = rotate_half_table(L, D, config_.rotary_emb_base, 1.0, options_.dtype().toScalarType(), dev);
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));

  auto h = at::layer_norm(at::embedding(word_embeddings_, ids) + token_type_row_, {H}, emb_ln_w_, emb_ln_b_, eps);
  for (const auto& l : layers_) {
    // Wqkv rows are [q | k | v], each head-major (heads x head_dim).
    auto qkv = at::linear(h, l.wqkv, l.bqkv).view({B, L, 3, heads, D});
    auto q = apply_rotate_half(qkv.select(2, 0).transpose(1, 2), rope);
    auto k = apply_rotate_half(qkv.select(2, 1).transpose(1, 2), rope);
    auto v = qkv.select(2, 2).transpose(1, 2).contiguous();
    auto a = compat::attention(q, k, v, real, scale).transpose(1, 2).reshape({B, L, H});
    h = at::layer_norm(h + at::linear(a, l.wout, l.bout), {H}, l.norm1_w, l.norm1_b, eps);
    auto f = at::linear(at::gelu(at::linear(h, l.w1, l.b1)), l.w2, l.b2);
    h = at::layer_norm(h + f, {H}, l.norm2_w, l.norm2_b, eps);
  }
  return h;
}

at::Tensor JinaTextModel::pooled(const at::Tensor& input_ids) const {
  auto h = last_hidden_state(input_ids).to(at::kFloat);
  auto m = input_ids.to(h.device()).ne(config_.pad_token_id).to(at::kFloat).unsqueeze(-1);
  return (h * m).sum(1) / m.sum(1);
}

}  // namespace baton::models
