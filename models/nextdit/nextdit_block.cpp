#include "models/nextdit/nextdit_block.h"

#include <cmath>

#include "core/error.h"
#include "core/fused_ops.h"
#include "core/torch_compat.h"
#include "models/nextdit/nextdit_rope.h"

namespace baton::models {
namespace {

// Where each sample's rows end (the fused kernels' view of a layout).
std::vector<int64_t> row_ends(const TokenLayout& layout) {
  std::vector<int64_t> ends;
  for (int64_t b = 0; b < layout.batch(); ++b) ends.push_back(layout.offsets[b] + layout.lengths[b]);
  return ends;
}

// RMSNorm of packed rows with a weight per sample ([B, D]) or one for all ([D]).
// Modulation (1 + scale) is folded into the per-sample weight, so a norm and its
// modulation are one pass.
at::Tensor norm_rows(const at::Tensor& x, const TokenLayout& layout, const at::Tensor& w, double eps) {
  if (w.dim() == 1) return compat::rms_norm(x, w, eps);
  if (auto fused_out = fused::rms_norm_rows(x, w, row_ends(layout), eps)) return *fused_out;
  if (layout.batch() == 1) return compat::rms_norm(x, w.select(0, 0), eps);
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < layout.batch(); ++b)
    parts.push_back(compat::rms_norm(x.narrow(0, layout.offsets[b], layout.lengths[b]), w.select(0, b), eps));
  return at::cat(parts, 0);
}

// x += RMSNorm(y) * w, the sandwich norm with the tanh gate folded into w.
void add_normed_(at::Tensor& x, const at::Tensor& y, const TokenLayout& layout, const at::Tensor& w, double eps) {
  if (w.dim() == 1) {
    x.add_(compat::rms_norm(y, w, eps));
    return;
  }
  if (fused::add_rms_norm_rows_(x, y, w, row_ends(layout), eps)) return;
  for (int64_t b = 0; b < layout.batch(); ++b) {
    const int64_t off = layout.offsets[b], len = layout.lengths[b];
    x.narrow(0, off, len).add_(compat::rms_norm(y.narrow(0, off, len), w.select(0, b), eps));
  }
}

// [rows, heads, hd] -> [batch, heads, rows / batch, hd] without copying.
at::Tensor heads_first(const at::Tensor& t, int64_t batch) {
  return t.view({batch, t.size(0) / batch, t.size(1), t.size(2)}).transpose(1, 2);
}

// softmax(q k^T / sqrt(hd)) v for each sample of the layout; rows [S, H * hd].
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const TokenLayout& layout) {
  const int64_t heads = q.size(1), hd = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  if (layout.uniform()) {
    const int64_t batch = layout.batch();
    auto o = compat::attention(heads_first(q, batch), heads_first(k, batch), heads_first(v, batch), at::Tensor(), scale);
    return o.transpose(1, 2).reshape({q.size(0), heads * hd});
  }
  std::vector<at::Tensor> outs;
  for (int64_t b = 0; b < layout.batch(); ++b) {
    const int64_t off = layout.offsets[b], len = layout.lengths[b];
    auto o = compat::attention(heads_first(q.narrow(0, off, len), 1), heads_first(k.narrow(0, off, len), 1),
                               heads_first(v.narrow(0, off, len), 1), at::Tensor(), scale);
    outs.push_back(o.transpose(1, 2).reshape({len, heads * hd}));
  }
  return at::cat(outs, 0);
}

}  // namespace

void require_dit_compute_options(const at::TensorOptions& options) {
  const auto dtype = options.dtype().toScalarType();
  require(compat::supports_compute_dtype(options.device(), dtype),
          "the DiT cannot compute in " + std::string(c10::toString(dtype)) + " on " + options.device().str() +
              " with libtorch " + compat::torch_version(),
          "use fp32 or bf16 on the CPU; bf16 or fp16 on CUDA");
}

NextDitBlock::NextDitBlock(const NextDitConfig& config, const TensorSource& weights, const std::string& prefix,
                           bool modulated, const at::TensorOptions& options, WeightFormat weight_format)
    : heads_(config.n_heads),
      kv_heads_(config.n_kv_heads),
      head_dim_(config.head_dim()),
      eps_(config.norm_eps),
      modulated_(modulated),
      dtype_(options.dtype().toScalarType()) {
  const auto shapes = nextdit_block_shapes(config, prefix, modulated);
  auto load = [&](const std::string& name) {
    const auto full = prefix + name;
    return weights.load_checked(full, shapes.at(full), options);
  };
  auto linear = [&](const std::string& name) {
    const auto full = prefix + name;
    return LinearWeight::load(weights, {{full, shapes.at(full)}}, options, weight_format);
  };
  const auto qkv = linear("attention.qkv.weight");
  // Two GEMMs (q|k and v) so q|k comes out contiguous for the norm + RoPE pass.
  w_qk_ = qkv.narrow_rows(0, (heads_ + kv_heads_) * head_dim_);
  w_v_ = qkv.narrow_rows((heads_ + kv_heads_) * head_dim_, kv_heads_ * head_dim_);
  w_out_ = linear("attention.out.weight");
  if (config.qk_norm) {
    // q_norm/k_norm eps is not passed in the reference: apex's default 1e-5 [I, spec A.2].
    auto qn = load("attention.q_norm.weight").to(at::kFloat);
    auto kn = load("attention.k_norm.weight").to(at::kFloat);
    qk_norm_ = at::cat({qn.expand({heads_, head_dim_}), kn.expand({kv_heads_, head_dim_})}, 0);
  }
  w1_ = linear("feed_forward.w1.weight");
  w3_ = linear("feed_forward.w3.weight");
  w2_ = linear("feed_forward.w2.weight");
  auto norms = at::stack({at::stack({load("attention_norm1.weight"), load("attention_norm2.weight")}),
                          at::stack({load("ffn_norm1.weight"), load("ffn_norm2.weight")})});
  if (modulated_) {
    norms_f32_ = norms.to(at::kFloat);
    ada_w_ = linear("adaLN_modulation.1.weight");
    ada_b_ = load("adaLN_modulation.1.bias");
  } else {
    norms_ = norms;
  }
}

at::Tensor NextDitBlock::attention(const at::Tensor& h, const TokenLayout& layout, const at::Tensor& rope) const {
  const int64_t rows = h.size(0);
  auto qk = w_qk_.apply(h).view({rows, heads_ + kv_heads_, head_dim_});
  auto v = w_v_.apply(h).view({rows, kv_heads_, head_dim_});
  // q/k RMSNorm (statistics in float32) and RoPE in float32 (A.8) on q and k
  // together, then one cast each back to the activation dtype: one fused
  // kernel where it runs (bf16 on CUDA), else libtorch's five passes.
  if (qk_norm_.defined())
    if (auto fused_qk = fused::qk_norm_rope(qk, qk_norm_, rope, heads_, eps_))
      return w_out_.apply(attend(fused_qk->first, fused_qk->second, v, layout));
  at::Tensor qkf = qk_norm_.defined() ? compat::rms_norm(qk, at::Tensor(), eps_) * qk_norm_ : qk.to(at::kFloat);
  apply_rope_(qkf, rope);
  auto q = qkf.narrow(1, 0, heads_).to(dtype_);
  auto k = qkf.narrow(1, heads_, kv_heads_).to(dtype_);
  return w_out_.apply(attend(q, k, v, layout));
}

at::Tensor NextDitBlock::feed_forward(const at::Tensor& h) const {
  // Two GEMMs with contiguous outputs, so SiLU and the product run in place
  // on contiguous memory (vectorised elementwise kernels).
  auto y = w1_.apply(h);
  {
    const auto gate = w3_.apply(h);  // freed before w2 runs (the planner counts one [rows, hidden] there)
    if (!fused::silu_mul_(y, gate)) {
      at::silu_(y);
      y.mul_(gate);
    }
  }
  return w2_.apply(y);
}

void NextDitBlock::forward(at::Tensor& x, const TokenLayout& layout, const at::Tensor& rope,
                           const at::Tensor& silu_c) const {
  at::Tensor w;  // [(B,) 2, 2, D]: (attn, ffn) x (pre-norm, post-norm) weights
  if (modulated_) {
    require(silu_c.defined() && silu_c.size(0) == layout.batch(),
            "a modulated Next-DiT block needs one conditioning vector per sample");
    // Rows of adaLN_modulation: scale_attn, gate_attn, scale_ffn, gate_ffn (A.10).
    auto m = ada_w_.apply(silu_c, ada_b_).to(at::kFloat).view({layout.batch(), 2, 2, -1});
    auto pre = m.select(2, 0) + 1.0;
    auto post = m.select(2, 1).tanh();
    w = (at::stack({pre, post}, 2) * norms_f32_).to(dtype_);
  } else {
    w = norms_;
  }
  const int64_t d = modulated_ ? 1 : 0;  // dimension of (attn, ffn) in w
  auto weight = [&](int64_t part, int64_t which) { return w.select(d, part).select(d, which); };
  const auto attn = attention(norm_rows(x, layout, weight(0, 0), eps_), layout, rope);
  add_normed_(x, attn, layout, weight(0, 1), eps_);
  const auto ffn = feed_forward(norm_rows(x, layout, weight(1, 0), eps_));
  add_normed_(x, ffn, layout, weight(1, 1), eps_);
}

int64_t NextDitBlock::weight_bytes() const {
  auto bytes = [](const at::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.nbytes()) : int64_t{0}; };
  int64_t n = bytes(qk_norm_) + bytes(norms_) + bytes(norms_f32_) + bytes(ada_b_);
  for (const auto* w : {&w_qk_, &w_v_, &w_out_, &w1_, &w3_, &w2_, &ada_w_}) n += w->bytes();
  return n;
}

}  // namespace baton::models
