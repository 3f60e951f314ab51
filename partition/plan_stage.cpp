#include "partition/plan_stage.h"


namespace baton::partition {

StageContent content_of(const pb::Stage& s) {
  StageContent c;
  switch (s.kind()) {
    case pb::Stage::TEXT: c.kind = StageKind::kText; break;
    case pb::Stage::VAE: c.kind = StageKind::kVae; break;
    default: c.kind = StageKind::kDit; break;
  }
  c.jina = s.jina();
  c.gemma_embed = s.gemma_embed();
  c.gemma_begin = s.gemma_layers().begin();
  c.gemma_end = s.gemma_layers().end();
  c.dit_begin = s.dit_blocks().begin();
  c.dit_end = s.dit_blocks().end();
  c.prologue = s.dit_prologue();
  c.final = s.dit_final();
  if (s.vae_tiling().tiled())
    c.vae_tiling = models::VaeTiling{s.vae_tiling().tile_h(), s.vae_tiling().tile_w(), s.vae_tiling().overlap()};
  c.time_shared = s.time_shared();
  return c;
}

pb::Stage stage_of(const StageContent& c, const std::string& device) {
  pb::Stage s;
  s.set_device(device);
  switch (c.kind) {
    case StageKind::kText:
      s.set_kind(pb::Stage::TEXT);
      s.set_jina(c.jina);
      s.set_gemma_embed(c.gemma_embed);
      s.mutable_gemma_layers()->set_begin(c.gemma_begin);
      s.mutable_gemma_layers()->set_end(c.gemma_end);
      s.set_time_shared(c.time_shared);
      break;
    case StageKind::kDit:
      s.set_kind(pb::Stage::DIT);
      s.mutable_dit_blocks()->set_begin(c.dit_begin);
      s.mutable_dit_blocks()->set_end(c.dit_end);
      s.set_dit_prologue(c.prologue);
      s.set_dit_final(c.final);
      break;
    case StageKind::kVae:
      s.set_kind(pb::Stage::VAE);
      if (c.vae_tiling.tile_h > 0 || c.vae_tiling.tile_w > 0) {
        s.mutable_vae_tiling()->set_tiled(true);
        s.mutable_vae_tiling()->set_tile_h(static_cast<int32_t>(c.vae_tiling.tile_h));
        s.mutable_vae_tiling()->set_tile_w(static_cast<int32_t>(c.vae_tiling.tile_w));
        s.mutable_vae_tiling()->set_overlap(static_cast<int32_t>(c.vae_tiling.overlap));
      }
      break;
  }
  return s;
}

const char* stage_kind_name(pb::Stage::Kind kind) {
  switch (kind) {
    case pb::Stage::TEXT: return "text";
    case pb::Stage::DIT: return "DiT";
    case pb::Stage::VAE: return "VAE";
    default: return "?";
  }
}

std::string describe_stage(const pb::Stage& s) {
  auto range = [](const pb::LayerRange& r) {
    return r.end() - r.begin() == 1 ? std::to_string(r.begin())
                                    : std::to_string(r.begin()) + "-" + std::to_string(r.end() - 1);
  };
  switch (s.kind()) {
    case pb::Stage::TEXT: {
      std::string parts;
      auto add = [&parts](const std::string& p) { parts += (parts.empty() ? "" : ", ") + p; };
      if (s.jina()) add("Jina");
      std::string gemma;
      if (s.gemma_embed()) gemma = "embed";
      if (s.gemma_layers().end() > s.gemma_layers().begin())
        gemma += (gemma.empty() ? "" : "+") + std::string("layers ") + range(s.gemma_layers());
      if (!gemma.empty()) add("Gemma " + gemma);
      return "text (" + parts + ")" + (s.time_shared() ? " time-shared" : "");
    }
    case pb::Stage::DIT: {
      std::string d = "DiT " + (s.dit_blocks().end() > s.dit_blocks().begin() ? range(s.dit_blocks()) : "-");
      if (s.dit_prologue()) d += " +prologue";
      if (s.dit_final()) d += " +final";
      return d;
    }
    case pb::Stage::VAE:
      return s.vae_tiling().tiled() ? "VAE (" + std::to_string(s.vae_tiling().tile_h()) + "x" +
                                          std::to_string(s.vae_tiling().tile_w()) + " latent tiles)"
                                    : "VAE";
    default:
      return "?";
  }
}

}  // namespace baton::partition
