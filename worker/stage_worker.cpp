#include "worker/stage_worker.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/error.h"

namespace baton::worker {
namespace {

using Role = StageAddress::Role;
StageAddress dit(int64_t i) { return {Role::Dit, i}; }
const StageAddress kCoordinator{Role::Coordinator, 0};
const StageAddress kVae{Role::Vae, 0};

StageMessage make(MessageKind kind, uint64_t request_id, int64_t step, nlohmann::json meta) {
  StageMessage m;
  m.kind = kind;
  m.request_id = request_id;
  m.step = step;
  m.meta = std::move(meta);
  return m;
}

std::vector<int64_t> branches_for(bool with_uncond) {
  return with_uncond ? std::vector<int64_t>{0, 1} : std::vector<int64_t>{0};
}

const at::Tensor& tensor_of(const StageMessage& m, const std::string& name) {
  auto it = m.tensors.find(name);
  if (it == m.tensors.end())
    throw Error(std::string(message_kind_name(m.kind)) + " message for request " + std::to_string(m.request_id) +
                " lacks tensor '" + name + "'");
  return it->second;
}

}  // namespace

sampling::GenerationRequest request_of(const StageMessage& message) {
  if (!message.meta.contains("request"))
    throw Error(std::string(message_kind_name(message.kind)) + " message for request " +
                std::to_string(message.request_id) + " carries no request");
  return sampling::GenerationRequest::from_json(message.meta.at("request"));
}

StageWorker::StageWorker(PipelineShape shape) : shape_(shape) {
  require(shape.dit_stages >= 1, "a pipeline needs at least one DiT stage");
}

void StageWorker::host_text(std::shared_ptr<TextEncoding> text) { text_ = std::move(text); }
void StageWorker::host_text_head(std::shared_ptr<TextEncodingHead> head) { text_head_ = std::move(head); }
void StageWorker::host_text_tail(std::shared_ptr<TextEncodingTail> tail) { text_tail_ = std::move(tail); }
void StageWorker::host_dit(int64_t index, std::shared_ptr<DitStage> stage) {
  require(index >= 0 && index < shape_.dit_stages, "DiT stage index " + std::to_string(index) + " out of range");
  dits_[index] = std::move(stage);
}
void StageWorker::host_vae(std::shared_ptr<ImageDecoding> vae) { vae_ = std::move(vae); }
void StageWorker::time_share(std::shared_ptr<DeviceTimeSharing> sharing) { time_sharing_ = std::move(sharing); }

bool StageWorker::hosts(const StageAddress& a) const {
  switch (a.role) {
    case Role::Text: return a.index == 0 ? (text_ || text_head_) : (a.index == 1 && text_tail_);
    case Role::Dit: return dits_.count(a.index) != 0;
    case Role::Vae: return vae_ != nullptr;
    default: return false;
  }
}

std::vector<StageAddress> StageWorker::addresses() const {
  std::vector<StageAddress> out;
  if (text_ || text_head_) out.push_back({Role::Text, 0});
  if (text_tail_) out.push_back({Role::Text, 1});
  for (const auto& kv : dits_) out.push_back(dit(kv.first));
  if (vae_) out.push_back(kVae);
  return out;
}

std::map<std::string, double> StageWorker::busy_seconds() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return busy_;
}

std::vector<Outgoing> StageWorker::handle(const StageAddress& to, StageMessage message) {
  const uint64_t id = message.request_id;
  const auto start = std::chrono::steady_clock::now();
  struct Account {
    StageWorker* self;
    std::string name;
    std::chrono::steady_clock::time_point start;
    ~Account() {
      std::lock_guard<std::mutex> lock(self->stats_mutex_);
      self->busy_[name] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  } account{this, to.name(), start};
  try {
    if (!hosts(to)) throw Error("this worker does not host stage " + to.name());
    if (message.kind == MessageKind::Cancel) {
      forget(id);
      if (cancelled_.insert(id).second) cancelled_order_.push_back(id);
      if (cancelled_order_.size() > 4096) {  // bounded: ids only grow, old ones never return
        cancelled_.erase(cancelled_order_.front());
        cancelled_order_.pop_front();
      }
      return {};
    }
    if (cancelled_.count(id)) {
      spdlog::debug("stage {}: request {} was cancelled: {} dropped", to.name(), id, message_kind_name(message.kind));
      return {};
    }
    if (time_sharing_) {
      if (to.role == Role::Text) time_sharing_->enter_text_phase();
      else time_sharing_->enter_resident_phase();
    }
    switch (to.role) {
      case Role::Text: return on_text(to.index, message);
      case Role::Dit: return on_dit(to.index, message);
      case Role::Vae: return on_vae(message);
      default: throw Error("no stage handles messages for " + to.name());
    }
  } catch (const std::exception& e) {
    spdlog::error("stage {}: request {}: {}", to.name(), id, e.what());
    forget(id);
    auto failed = make(MessageKind::Failed, id, message.step, {{"error", e.what()}, {"stage", to.name()}});
    return {{kCoordinator, std::move(failed)}};
  }
}

std::vector<Outgoing> StageWorker::on_text(int64_t index, StageMessage& m) {
  const auto expected = index == 0 ? MessageKind::Start : MessageKind::Encoded;
  require(m.kind == expected, "text stage: unexpected " + std::string(message_kind_name(m.kind)) + " message");
  if (index == 0 && text_head_) {  // the first half: on to the tail
    auto half = make(MessageKind::Encoded, m.request_id, 0, m.meta);
    half.tensors = text_head_->encode_head(request_of(m));
    return {{{Role::Text, 1}, std::move(half)}};
  }
  auto [cond, uncond] = index == 0 ? text_->encode(request_of(m)) : text_tail_->encode_tail(m.tensors);
  auto out = make(MessageKind::Encoded, m.request_id, 0, m.meta);
  out.tensors = {{"cond.features", cond.features}, {"cond.pooled", cond.pooled},
                 {"uncond.features", uncond.features}, {"uncond.pooled", uncond.pooled}};
  return {{dit(0), std::move(out)}};
}

std::vector<Outgoing> StageWorker::on_dit(int64_t index, StageMessage& m) {
  auto& stage = *dits_.at(index);
  switch (m.kind) {
    case MessageKind::Encoded: {
      stage.start_request(m.request_id, {tensor_of(m, "cond.features"), tensor_of(m, "cond.pooled")},
                          {tensor_of(m, "uncond.features"), tensor_of(m, "uncond.pooled")});
      // Step 0 from the request's own seeded noise (the last stage draws the same).
      sampling::RequestSampler first(request_of(m));
      return start_step(m.request_id, 0, first.latent(), first.model_time(), branches_for(first.with_uncond()),
                        m.meta);
    }
    case MessageKind::Latent:
      return start_step(m.request_id, m.step, tensor_of(m, "latent"), m.meta.at("t").get<double>(), m.branches,
                        m.meta);
    case MessageKind::Step:
      return run_dit(index, m.request_id, m.step, m.branches, m.meta,
                     models::JointSequence::from_message(
                         m.tensors, m.meta.is_object() && m.meta.contains("joint") ? m.meta["joint"] : nlohmann::json()));
    case MessageKind::Finished:
      stage.end_request(m.request_id);
      return {};
    default:
      throw Error("DiT stage: unexpected " + std::string(message_kind_name(m.kind)) + " message");
  }
}

std::vector<Outgoing> StageWorker::start_step(uint64_t request_id, int64_t step, const at::Tensor& latent, double t,
                                              const std::vector<int64_t>& branches, const nlohmann::json& meta) {
  auto& first = *dits_.at(0);
  std::vector<Outgoing> out;
  // Separate microbatches per branch, or one with both (cond first).
  std::vector<std::vector<int64_t>> batches;
  if (shape_.split_branches)
    for (auto b : branches) batches.push_back({b});
  else
    batches.push_back(branches);
  nlohmann::json step_meta = meta;
  step_meta["t"] = t;
  for (const auto& batch : batches) {
    auto seq = first.embed_step(request_id, latent, t, batch);
    auto more = run_dit(0, request_id, step, batch, step_meta, seq);
    out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return out;
}

std::vector<Outgoing> StageWorker::run_dit(int64_t index, uint64_t request_id, int64_t step,
                                           const std::vector<int64_t>& branches, const nlohmann::json& meta,
                                           const models::JointSequence& seq) {
  auto& stage = *dits_.at(index);
  auto after = stage.run_blocks(seq);
  if (!stage.range().head) {
    auto next = make(MessageKind::Step, request_id, step, meta);
    next.branches = branches;
    auto message = after.to_message();
    next.tensors = std::move(message.tensors);
    next.meta["joint"] = std::move(message.layout);
    return {{dit(index + 1), std::move(next)}};
  }
  return finish_branches(request_id, step, branches, meta, stage.finish_step(after));
}

std::vector<Outgoing> StageWorker::finish_branches(uint64_t request_id, int64_t step,
                                                   const std::vector<int64_t>& branches, const nlohmann::json& meta,
                                                   const at::Tensor& velocities) {
  auto it = samplers_.find(request_id);
  if (it == samplers_.end()) {
    require(step == 0, "last DiT stage: step " + std::to_string(step) + " of unknown request " +
                           std::to_string(request_id));
    sampling::GenerationRequest request = sampling::GenerationRequest::from_json(meta.at("request"));
    it = samplers_.emplace(request_id, sampling::RequestSampler(request)).first;
  }
  auto& sampler = it->second;
  require(sampler.step() == step, "last DiT stage: request " + std::to_string(request_id) + " is at step " +
                                      std::to_string(sampler.step()) + ", got step " + std::to_string(step));
  auto& arrived = pending_[{request_id, step}];
  for (size_t i = 0; i < branches.size(); ++i) arrived[branches[i]] = velocities.narrow(0, static_cast<int64_t>(i), 1);
  const auto expected = branches_for(sampler.with_uncond());
  if (arrived.size() < expected.size()) return {};
  std::vector<at::Tensor> ordered;
  for (auto b : expected) ordered.push_back(arrived.at(b));
  pending_.erase({request_id, step});
  sampler.advance(at::cat(ordered, 0));

  std::vector<Outgoing> out;
  auto progress = make(MessageKind::Progress, request_id, sampler.step(), {{"steps", sampler.steps()}});
  out.push_back({kCoordinator, std::move(progress)});
  if (!sampler.done()) {
    auto next = make(MessageKind::Latent, request_id, sampler.step(), meta);
    next.meta["t"] = sampler.model_time();
    next.branches = branches_for(sampler.with_uncond());
    next.tensors["latent"] = sampler.latent();
    out.push_back({dit(0), std::move(next)});
  } else {
    auto final_latent = make(MessageKind::Latent, request_id, sampler.step(), meta);
    final_latent.tensors["latent"] = sampler.latent();
    out.push_back({kVae, std::move(final_latent)});
    out.push_back({dit(0), make(MessageKind::Finished, request_id, sampler.step(), nlohmann::json::object())});
    samplers_.erase(it);
  }
  return out;
}

std::vector<Outgoing> StageWorker::on_vae(StageMessage& m) {
  require(m.kind == MessageKind::Latent, "VAE stage: unexpected " + std::string(message_kind_name(m.kind)) + " message");
  auto png = vae_->decode_png(tensor_of(m, "latent"), request_of(m));
  auto out = make(MessageKind::Image, m.request_id, m.step, nlohmann::json::object());
  out.tensors["png"] = at::from_blob(png.data(), {static_cast<int64_t>(png.size())}, at::kByte).clone();
  return {{kCoordinator, std::move(out)}};
}

void StageWorker::forget(uint64_t request_id) {
  samplers_.erase(request_id);
  for (auto it = pending_.begin(); it != pending_.end();)
    it = it->first.first == request_id ? pending_.erase(it) : std::next(it);
  for (auto& kv : dits_)
    if (kv.second->range().embed) kv.second->end_request(request_id);
}

}  // namespace baton::worker
