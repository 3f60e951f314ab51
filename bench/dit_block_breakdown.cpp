#include "bench/dit_block_breakdown.h"

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <cmath>
#include <cstdio>

#include "bench/bench_timer.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "models/nextdit/dit_blocks.h"

namespace baton::bench {

BenchReport run_dit_block_breakdown(const BenchSettings& settings, const DitBenchOptions& o) {
  BenchSettings s = settings;
  validate_settings(s);
  require_caption_pair(o);
  const auto device = bench_device(s);
  const auto dtype = bench_dtype(s, device);
  const BenchModel model(s);
  const models::NextDitConfig c = model.configs().dit;
  const ImageSize size = o.sizes.empty() ? ImageSize{s.width, s.height} : o.sizes.front();
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  const auto weights = model.weights(io::Component::Transformer);
  const models::DitBlocks block(c, *weights, 0, 1, options);  // layers.0, as every main block

  models::JointSequence seq;
  seq.caption_lengths = {o.captions[0], o.captions[1]};
  seq.grid_h = size.height / 8 / c.patch_size;
  seq.grid_w = size.width / 8 / c.patch_size;
  const int64_t rows = seq.layout().total_rows(), d = c.dim, f = c.ffn_hidden(), hd = c.head_dim();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(s.seed);
  seq.tokens = at::randn({rows, d}, gen).to(options);
  seq.conditioning = at::randn({2, c.adaln_dim()}, gen).to(options);

  BenchReport report("nextdit_block_breakdown");
  report.info() = {{"device", device.str()}, {"dtype", dtype_name(dtype)}, {"size", size.str()},
                   {"rows", rows},           {"model", model.describe()},  {"iters", s.iters}};
  report.add_line("one main block at " + size.str() + " (" + std::to_string(rows) + " rows: captions " +
                  std::to_string(o.captions[0]) + " + " + std::to_string(o.captions[1]) + ", both CFG samples), " +
                  dtype_name(dtype) + " on " + device.str() + "; x " + std::to_string(c.n_layers) + " for the call");
  report.add_column("part", "part", BenchReport::Format::kText);
  report.add_column("median_ms", "ms", BenchReport::Format::kMs);
  report.add_column("share", "share", BenchReport::Format::kFixed2);
  report.add_column("call_ms", "x_blocks_ms", BenchReport::Format::kMs);

  const auto whole = time_calls(device, s.warmup, s.iters, [&] { block.forward(seq); }).median_ms();

  // The products of the block on its shapes (weights [out, in] as stored).
  auto x = at::randn({rows, d}, gen).to(options);
  auto hidden = at::randn({rows, f}, gen).to(options);
  const std::vector<std::pair<at::Tensor, at::Tensor>> products{
      {x, at::randn({(c.n_heads + c.n_kv_heads) * hd, d}, gen).to(options)},
      {x, at::randn({c.n_kv_heads * hd, d}, gen).to(options)},
      {x, at::randn({d, d}, gen).to(options)},
      {x, at::randn({f, d}, gen).to(options)},
      {x, at::randn({f, d}, gen).to(options)},
      {hidden, at::randn({d, f}, gen).to(options)}};
  const auto gemm = time_calls(device, s.warmup, s.iters, [&] {
                      for (const auto& [in, w] : products) at::linear(in, w);
                    }).median_ms();

  // Attention per sample, as compat::attention runs it (native GQA where it can).
  std::vector<std::array<at::Tensor, 3>> per_sample;
  for (const auto lc : seq.caption_lengths) {
    const int64_t l = lc + seq.image_tokens();
    per_sample.push_back({at::randn({1, l, c.n_heads, hd}, gen).to(options).transpose(1, 2),
                          at::randn({1, l, c.n_kv_heads, hd}, gen).to(options).transpose(1, 2),
                          at::randn({1, l, c.n_kv_heads, hd}, gen).to(options).transpose(1, 2)});
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const auto attention = time_calls(device, s.warmup, s.iters, [&] {
                           for (const auto& [q, k, v] : per_sample) compat::attention(q, k, v, at::Tensor(), scale);
                         }).median_ms();

  const double rest = whole - gemm - attention;
  auto row = [&](const std::string& part, double ms) {
    report.add_row({{"part", part}, {"median_ms", ms}, {"share", ms / whole}, {"call_ms", ms * c.n_layers}});
  };
  row("whole block", whole);
  row("matrix products", gemm);
  row("attention", attention);
  row("rest (norms, modulation, RoPE, gate, adds)", rest);
  // What the rest must move at least: the residual stream read and written
  // once per norm (4), q|k once in float32 for RoPE, the FFN gate once.
  const double elem = static_cast<double>(at::elementSize(dtype));
  const double floor_bytes = rows * (8.0 * d * elem + 2.0 * (c.n_heads + c.n_kv_heads) * hd * 4 + 3.0 * f * elem);
  report.info()["rest_min_bytes"] = floor_bytes;
  char buf[160];
  std::snprintf(buf, sizeof buf, "the rest moves at least %.1f MB per block: a fused kernel cannot beat that at the "
                "device's memory bandwidth", floor_bytes / 1e6);
  report.add_note(buf);
  return report;
}

}  // namespace baton::bench
