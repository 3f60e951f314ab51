#include "partition/plan_file.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/byte_size.h"
#include "core/error.h"
#include "models/vae/vae_memory.h"
#include "partition/plan_stage.h"
#include "partition/planner.h"

namespace baton::partition {
namespace {

const char* kReplanHint = "edit the plan or make a new one with baton plan";

std::string stage_name(const pb::Plan& plan, int i) {
  return "stage " + std::to_string(i) + " (" + describe_stage(plan.stages(i)) + " on " + plan.stages(i).device() + ")";
}

std::string span(int begin, int end) {
  return end - begin == 1 ? std::to_string(begin) : std::to_string(begin) + ".." + std::to_string(end - 1);
}

// Ranges of `what` (Gemma layer, DiT block) in stage order must tile [0, count).
void check_ranges(const pb::Plan& plan, const std::vector<int>& stages, const pb::LayerRange& (*range)(const pb::Stage&),
                  int count, const std::string& what) {
  int next = 0, previous = -1;
  for (int i : stages) {
    const auto& r = range(plan.stages(i));
    if (r.begin() == r.end()) continue;
    if (r.begin() < 0 || r.end() > count || r.begin() > r.end())
      throw Error(stage_name(plan, i) + ": " + what + "s [" + std::to_string(r.begin()) + ", " + std::to_string(r.end()) +
                      ") are outside 0.." + std::to_string(count - 1),
                  kReplanHint);
    if (r.begin() < next)
      throw Error(what + " " + std::to_string(r.begin()) + " is placed twice (" + stage_name(plan, previous) + " and " +
                      stage_name(plan, i) + ")",
                  kReplanHint);
    if (r.begin() > next)
      throw Error(what + "s " + span(next, r.begin()) + " are placed nowhere (a gap before " + stage_name(plan, i) + ")",
                  kReplanHint);
    next = r.end();
    previous = i;
  }
  if (next < count)
    throw Error(what + "s " + span(next, count) + " are placed nowhere (a gap at the end)", kReplanHint);
}

const pb::LayerRange& gemma_range(const pb::Stage& s) { return s.gemma_layers(); }
const pb::LayerRange& dit_range(const pb::Stage& s) { return s.dit_blocks(); }

void check_structure(const pb::Plan& plan, const ModelConfigs& model) {
  if (plan.format_version() != 1)
    throw Error("plan format_version " + std::to_string(plan.format_version()) + " is not supported",
                "this baton reads format_version 1");
  const int blocks = static_cast<int>(model.dit.n_layers), layers = static_cast<int>(model.gemma.used_layers());
  if (plan.model().dit_blocks() != blocks || plan.model().gemma_layers() != layers)
    throw Error("the plan was made for a model with " + std::to_string(plan.model().dit_blocks()) + " DiT blocks and " +
                    std::to_string(plan.model().gemma_layers()) + " Gemma layers; this one has " +
                    std::to_string(blocks) + " and " + std::to_string(layers),
                "make a new plan for this model");
  if (plan.stages_size() == 0) throw Error("the plan has no stages", kReplanHint);
  std::vector<int> text, dit, vae;
  int last_kind = 0, jina = 0, embed = 0, embed_stage = -1;
  for (int i = 0; i < plan.stages_size(); ++i) {
    const auto& s = plan.stages(i);
    if (s.kind() == pb::Stage::KIND_UNSPECIFIED) throw Error(stage_name(plan, i) + " has no kind", "use TEXT, DIT or VAE");
    if (s.kind() < last_kind)
      throw Error(stage_name(plan, i) + " is out of pipeline order", "list text stages, then DiT stages, then the VAE");
    last_kind = s.kind();
    if (s.time_shared() && s.kind() != pb::Stage::TEXT) throw Error(stage_name(plan, i) + ": only text stages can be time-shared");
    if (s.kind() == pb::Stage::TEXT) {
      text.push_back(i);
      jina += s.jina();
      if (s.gemma_embed()) {
        ++embed;
        embed_stage = i;
      }
      if (!s.jina() && !s.gemma_embed() && s.gemma_layers().begin() == s.gemma_layers().end())
        throw Error(stage_name(plan, i) + " holds nothing", "remove it or give it Gemma layers");
    } else if (s.kind() == pb::Stage::DIT) {
      dit.push_back(i);
      if (s.dit_blocks().begin() >= s.dit_blocks().end())
        throw Error(stage_name(plan, i) + " holds no DiT blocks", "remove it or give it blocks");
    } else {
      vae.push_back(i);
      const auto& t = s.vae_tiling();
      if (t.tiled() && (t.tile_h() < models::kMinVaeTile || t.tile_w() < models::kMinVaeTile || t.overlap() < 0 ||
                        2 * t.overlap() >= std::min(t.tile_h(), t.tile_w())))
        throw Error(stage_name(plan, i) + ": VAE tiles of " + std::to_string(t.tile_h()) + "x" +
                        std::to_string(t.tile_w()) + " latent pixels with overlap " + std::to_string(t.overlap()),
                    "tiles are at least " + std::to_string(models::kMinVaeTile) +
                        " latent pixels (x8 image pixels) a side and larger than twice the overlap");
    }
  }
  if (jina != 1) throw Error("the Jina text tower is placed " + std::to_string(jina) + " times", "exactly one text stage needs jina: true");
  if (embed != 1) throw Error("Gemma's embedding is placed " + std::to_string(embed) + " times", "exactly one text stage needs gemma_embed: true");
  check_ranges(plan, text, gemma_range, layers, "Gemma layer");
  for (int i : text)
    if (plan.stages(i).gemma_layers().begin() == 0 && plan.stages(i).gemma_layers().end() > 0 && i < embed_stage)
      throw Error("Gemma's embedding (" + stage_name(plan, embed_stage) + ") comes after layer 0 (" + stage_name(plan, i) + ")",
                  kReplanHint);
  if (dit.empty()) throw Error("the plan has no DiT stage", kReplanHint);
  check_ranges(plan, dit, dit_range, blocks, "DiT block");
  for (int i : dit) {
    const auto& s = plan.stages(i);
    if (s.dit_prologue() != (s.dit_blocks().begin() == 0))
      throw Error(stage_name(plan, i) + ": dit_prologue belongs to exactly the stage holding block 0", kReplanHint);
    if (s.dit_final() != (s.dit_blocks().end() == blocks))
      throw Error(stage_name(plan, i) + ": dit_final belongs to exactly the stage holding block " + std::to_string(blocks - 1),
                  kReplanHint);
  }
  if (vae.size() != 1) throw Error("the VAE is placed " + std::to_string(vae.size()) + " times", "the plan needs exactly one VAE stage");
}

}  // namespace

std::string plan_to_json(const pb::Plan& plan) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  const auto status = google::protobuf::util::MessageToJsonString(plan, &json, options);
  if (!status.ok()) throw Error("cannot write the plan as JSON: " + status.ToString());
  return json;
}

pb::Plan plan_from_json(const std::string& json, const std::string& origin) {
  pb::Plan plan;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &plan);
  if (!status.ok()) throw Error(origin + " is not a plan: " + status.ToString(), "write it with baton plan --json");
  return plan;
}

void save_plan(const std::string& path, const pb::Plan& plan) {
  std::ofstream out(path);
  out << plan_to_json(plan);
  if (!out) throw Error("cannot write plan file " + path);
}

pb::Plan load_plan(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open plan file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return plan_from_json(text.str(), "plan file " + path);
}

DeviceInventory inventory_of(const pb::Plan& plan) {
  pb::DeviceInventory devices;
  for (const auto& m : plan.devices()) *devices.add_devices() = m;
  return inventory_from_proto(devices, no_device_probe(), false, "the plan's devices");
}

pb::Plan validate_plan(const pb::Plan& input, const DeviceInventory& inventory, const ModelConfigs& model,
                       const DeviceSpeeds& speeds) {
  check_structure(input, model);
  pb::Plan plan = input;
  std::set<std::string> known;
  for (const auto& d : inventory) known.insert(d.id());
  for (int i = 0; i < plan.stages_size(); ++i)
    if (!known.count(plan.stages(i).device()))
      throw Error(stage_name(plan, i) + " is on a device that does not exist here (devices: " +
                      describe_inventory(inventory) + ")",
                  "move the stage to one of these devices or make a new plan");
  plan.clear_devices();
  for (const auto& d : inventory) *plan.add_devices() = d.to_proto();
  evaluate_plan(plan, model, speeds);
  for (const auto& u : plan.usage())
    if (u.total_bytes() > u.budget_bytes())
      throw Error(u.device() + " is over its budget: its stages need " + format_byte_size(u.total_bytes()) + " (weights " +
                      format_byte_size(u.weight_bytes()) + ", activations " + format_byte_size(u.activation_bytes()) +
                      ", workspace " + format_byte_size(u.workspace_bytes()) + ", context " +
                      format_byte_size(u.context_bytes()) + ", margin " + format_byte_size(u.margin_bytes()) +
                      ") but its budget is " + format_byte_size(u.budget_bytes()),
                  "move blocks to another device or make a new plan with baton plan");
  return plan;
}

}  // namespace baton::partition
