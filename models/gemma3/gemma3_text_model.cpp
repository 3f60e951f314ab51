#include "models/gemma3/gemma3_text_model.h"

#include <cmath>

#include "core/error.h"
#include "core/torch_compat.h"
#include "models/rotary/rotate_half_rope.h"
#include "models/text_input/token_ids.h"

namespace baton::models {

// One decoder layer (spec C.2). q/k/v and gate/up are concatenated at load so
// each is one matrix multiply; norm weights are kept as (1 + w) in float32.
struct Gemma3TextModel::Layer {
  bool global = false;
  LinearWeight qkv, o, gate_up, down;
  at::Tensor input_norm, post_attention_norm, pre_feedforward_norm, post_feedforward_norm, q_norm, k_norm;
};

namespace {

int64_t bytes_of(const at::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.nbytes()) : 0; }

}  // namespace

Gemma3TextModel::Gemma3TextModel(const Gemma3Config& config, const TensorSource& weights,
                                 const at::TensorOptions& options, Gemma3LayerRange range,
                                 WeightFormat weight_format)
    : config_(config), options_(options) {
  config_.validate();
  const int64_t used = config_.used_layers();
  begin_ = range.begin;
  end_ = range.end < 0 ? used : range.end;
  require(begin_ >= 0 && begin_ <= end_ && end_ <= used,
          "Gemma3 layer range [" + std::to_string(begin_) + ", " + std::to_string(end_) + ") is outside [0, " +
              std::to_string(used) + "]",
          "NewBie uses hidden_states[-2]: only layers 0.." + std::to_string(used - 1) + " run");
  require(at::isFloatingType(options.dtype().toScalarType()), "Gemma3 compute dtype must be a floating type");

  const auto shapes = gemma3_tensor_shapes(config_);
  auto load = [&](const std::string& name, const at::TensorOptions& o) {
    return weights.load_checked(name, shapes.at(name), o);
  };
  const auto f32 = options_.dtype(at::kFloat);
  auto norm = [&](const std::string& name) { return load(name, f32) + 1.0; };  // Gemma's (1 + w)
  // Matrices stacked along rows (q|k|v, gate|up), each in `weight_format`.
  auto linear = [&](const std::vector<std::string>& names) {
    std::vector<LinearWeight::Part> parts;
    for (const auto& n : names) parts.emplace_back(n, shapes.at(n));
    return LinearWeight::load(weights, parts, options_, weight_format);
  };

  if (has_embedding()) {
    embed_tokens_ = linear({"embed_tokens.weight"});
    // sqrt(hidden) rounded in the weight dtype first (bf16 -> 50.5), spec C.2.
    embed_scale_ = at::scalar_tensor(std::sqrt(static_cast<double>(config_.hidden_size)), at::kDouble)
                       .to(options_.dtype().toScalarType())
                       .item<double>();
  }
  for (int64_t i = begin_; i < end_; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    Layer l;
    l.global = config_.is_global(i);
    l.qkv = linear({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"});
    l.o = linear({p + "self_attn.o_proj.weight"});
    l.gate_up = linear({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"});
    l.down = linear({p + "mlp.down_proj.weight"});
    l.input_norm = norm(p + "input_layernorm.weight");
    l.post_attention_norm = norm(p + "post_attention_layernorm.weight");
    l.pre_feedforward_norm = norm(p + "pre_feedforward_layernorm.weight");
    l.post_feedforward_norm = norm(p + "post_feedforward_layernorm.weight");
    l.q_norm = norm(p + "self_attn.q_norm.weight");
    l.k_norm = norm(p + "self_attn.k_norm.weight");
    layers_.push_back(std::move(l));
  }
}

Gemma3TextModel::~Gemma3TextModel() = default;
Gemma3TextModel::Gemma3TextModel(Gemma3TextModel&&) noexcept = default;
Gemma3TextModel& Gemma3TextModel::operator=(Gemma3TextModel&&) noexcept = default;

int64_t Gemma3TextModel::weight_bytes() const {
  int64_t n = embed_tokens_.defined() ? embed_tokens_.bytes() : 0;
  for (const auto& l : layers_) {
    for (const auto* w : {&l.qkv, &l.o, &l.gate_up, &l.down}) n += w->bytes();
    for (const auto* t : {&l.input_norm, &l.post_attention_norm, &l.pre_feedforward_norm, &l.post_feedforward_norm,
                          &l.q_norm, &l.k_norm})
      n += bytes_of(*t);
  }
  return n;
}

at::Tensor Gemma3TextModel::embed(const at::Tensor& input_ids) const {
  require(has_embedding(), "this Gemma3 piece starts at layer " + std::to_string(begin_) + " and has no embedding",
          "call run_layers with the hidden states of the previous piece");
  check_token_ids(input_ids, config_.vocab_size, "Gemma3");
  return embed_tokens_.rows_at(input_ids.to(options_.device()).to(at::kLong), dtype()) * embed_scale_;
}

at::Tensor Gemma3TextModel::run_layers(const at::Tensor& hidden, const at::Tensor& attention_mask) const {
  require(hidden.defined() && hidden.dim() == 3 && hidden.size(2) == config_.hidden_size && hidden.size(0) > 0 &&
              hidden.size(1) > 0,
          "Gemma3 layers " + std::to_string(begin_) + ".." + std::to_string(end_) + ": hidden states must be [batch, length, " +
              std::to_string(config_.hidden_size) + "], got " +
              (hidden.defined() ? format_shape(hidden.sizes().vec()) : std::string("none")));
  check_right_padded_mask(attention_mask, hidden.select(2, 0), "Gemma3");
  if (layers_.empty()) return hidden;

  const int64_t B = hidden.size(0), L = hidden.size(1), D = config_.head_dim;
  const int64_t Hq = config_.num_attention_heads, Hkv = config_.num_key_value_heads;
  const auto dev = options_.device();
  const auto dtype = options_.dtype().toScalarType();

  // Masks [B, L, L] (true = attend): causal + key padding, and on local layers
  // keys with i - j < sliding_window. Padded queries (don't-care rows) may read
  // every real key, so no query row is fully masked (no NaN anywhere).
  auto real = attention_mask.to(dev).to(at::kBool);
  auto pos = at::arange(L, at::TensorOptions().dtype(at::kLong).device(dev));
  auto distance = pos.unsqueeze(1) - pos.unsqueeze(0);  // i - j
  auto causal = distance.ge(0);
  auto window = causal.logical_and(distance.lt(config_.sliding_window));
  auto padded_query = real.logical_not().unsqueeze(2);  // [B, L, 1]
  auto keys = real.unsqueeze(1);                        // [B, 1, L]
  auto global_mask = keys.logical_and(causal.unsqueeze(0).logical_or(padded_query));
  auto local_mask = keys.logical_and(window.unsqueeze(0).logical_or(padded_query));

  const auto global_rope = rotate_half_table(L, D, config_.rope_theta, config_.rope_scaling_factor, dtype, dev);
  const auto local_rope = rotate_half_table(L, D, config_.rope_local_base_freq, 1.0, dtype, dev);
  const double scale = 1.0 / std::sqrt(config_.query_pre_attn_scalar);
  const double eps = config_.rms_norm_eps;

  auto h = hidden.to(options_);
  for (const auto& l : layers_) {
    auto x = compat::rms_norm(h, l.input_norm, eps);
    auto qkv = l.qkv.apply(x);
    auto q = qkv.narrow(-1, 0, Hq * D).view({B, L, Hq, D}).transpose(1, 2);
    auto k = qkv.narrow(-1, Hq * D, Hkv * D).view({B, L, Hkv, D}).transpose(1, 2);
    auto v = qkv.narrow(-1, (Hq + Hkv) * D, Hkv * D).view({B, L, Hkv, D}).transpose(1, 2);
    const auto& rope = l.global ? global_rope : local_rope;
    q = apply_rotate_half(compat::rms_norm(q, l.q_norm, eps), rope);
    k = apply_rotate_half(compat::rms_norm(k, l.k_norm, eps), rope);
    auto a = compat::attention(q, k, v.contiguous(), l.global ? global_mask : local_mask, scale);
    a = l.o.apply(a.transpose(1, 2).reshape({B, L, Hq * D}));
    h = h + compat::rms_norm(a, l.post_attention_norm, eps);

    auto gate_up = l.gate_up.apply(compat::rms_norm(h, l.pre_feedforward_norm, eps));
    const int64_t I = config_.intermediate_size;
    auto f = at::gelu(gate_up.narrow(-1, 0, I), "tanh") * gate_up.narrow(-1, I, I);
    h = h + compat::rms_norm(l.down.apply(f), l.post_feedforward_norm, eps);
  }
  return h;
}

at::Tensor Gemma3TextModel::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  return run_layers(embed(input_ids), attention_mask);
}

}  // namespace baton::models
