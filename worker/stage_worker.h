#pragma once
// The stages one device (a thread, or a rank) runs, and how each stage answers
// a message: the whole per-request protocol of stage_message.h lives here, so
// one process with threads and many ranks with a transport behave the same
// and make the same images.
#include <deque>
#include <functional>
#include <set>
#include <map>
#include <mutex>
#include <memory>
#include <utility>
#include <vector>

#include "sampling/generation_request.h"
#include "sampling/request_sampler.h"
#include "worker/dit_stage.h"
#include "worker/stage_message.h"
#include "worker/time_sharing.h"

namespace baton::worker {

// The text stage as the pipeline sees it: a request's two branches encoded.
class TextEncoding {
 public:
  virtual ~TextEncoding() = default;
  // cond = prompt, uncond = negative prompt; features are the real rows only.
  virtual std::pair<CaptionInput, CaptionInput> encode(const sampling::GenerationRequest& request) = 0;
};

// The text stage split over two workers (two ranks: the Gemma split of a plan
// whose two text devices are on different ranks). The head ("text") turns a
// request into named tensors for the tail ("text1"), which finishes them.
class TextEncodingHead {
 public:
  virtual ~TextEncodingHead() = default;
  virtual std::map<std::string, at::Tensor> encode_head(const sampling::GenerationRequest& request) = 0;
};
class TextEncodingTail {
 public:
  virtual ~TextEncodingTail() = default;
  virtual std::pair<CaptionInput, CaptionInput> encode_tail(const std::map<std::string, at::Tensor>& head) = 0;
};

// The VAE stage as the pipeline sees it: the final latent to PNG bytes.
class ImageDecoding {
 public:
  virtual ~ImageDecoding() = default;
  virtual std::vector<uint8_t> decode_png(const at::Tensor& latent, const sampling::GenerationRequest& request) = 0;
};

struct PipelineShape {
  int64_t dit_stages = 1;
  // Conditional and unconditional branches as separate microbatches (more in
  // flight for deep pipelines) instead of batched together.
  bool split_branches = false;
};

struct Outgoing {
  StageAddress to;
  StageMessage message;
};

class StageWorker {
 public:
  explicit StageWorker(PipelineShape shape);

  void host_text(std::shared_ptr<TextEncoding> text);
  // A split text stage: the head at "text", the tail at "text1".
  void host_text_head(std::shared_ptr<TextEncodingHead> head);
  void host_text_tail(std::shared_ptr<TextEncodingTail> tail);
  void host_dit(int64_t index, std::shared_ptr<DitStage> stage);
  void host_vae(std::shared_ptr<ImageDecoding> vae);
  // The device time-shares its text stage (time_sharing.h): each message
  // first puts the device in its stage's phase.
  void time_share(std::shared_ptr<DeviceTimeSharing> sharing);
  const DeviceTimeSharing* time_sharing() const { return time_sharing_.get(); }
  bool hosts(const StageAddress& address) const;
  std::vector<StageAddress> addresses() const;

  // Handles one message for the local stage at `to`. A failure of one request
  // becomes a Failed message to the coordinator; the worker keeps serving.
  std::vector<Outgoing> handle(const StageAddress& to, StageMessage message);

  // Seconds each local stage spent handling messages ("text", "dit0", "vae").
  std::map<std::string, double> busy_seconds() const;

 private:
  std::vector<Outgoing> on_text(int64_t index, StageMessage& m);
  std::vector<Outgoing> on_dit(int64_t index, StageMessage& m);
  std::vector<Outgoing> on_vae(StageMessage& m);
  // Embeds one step on the first stage and sends it on (or finishes it here).
  std::vector<Outgoing> start_step(uint64_t request_id, int64_t step, const at::Tensor& latent, double t,
                                   const std::vector<int64_t>& branches, const nlohmann::json& request);
  // Runs `seq` through DiT stage `index`, then forwards or finishes the step.
  std::vector<Outgoing> run_dit(int64_t index, uint64_t request_id, int64_t step, const std::vector<int64_t>& branches,
                                const nlohmann::json& meta, const models::JointSequence& seq);
  std::vector<Outgoing> finish_branches(uint64_t request_id, int64_t step, const std::vector<int64_t>& branches,
                                        const nlohmann::json& meta, const at::Tensor& velocities);
  void forget(uint64_t request_id);

  PipelineShape shape_;
  mutable std::mutex stats_mutex_;
  std::map<std::string, double> busy_;
  std::shared_ptr<TextEncoding> text_;
  std::shared_ptr<TextEncodingHead> text_head_;
  std::shared_ptr<TextEncodingTail> text_tail_;
  std::map<int64_t, std::shared_ptr<DitStage>> dits_;
  std::shared_ptr<ImageDecoding> vae_;
  std::shared_ptr<DeviceTimeSharing> time_sharing_;
  // Last DiT stage: the sampler of each request in flight, and velocities of
  // branches that arrived before their partner.
  std::map<uint64_t, sampling::RequestSampler> samplers_;
  std::map<std::pair<uint64_t, int64_t>, std::map<int64_t, at::Tensor>> pending_;
  // Recently cancelled requests: a message still in flight from another
  // stage (over ranks, the Cancel can overtake it) is dropped quietly.
  std::set<uint64_t> cancelled_;
  std::deque<uint64_t> cancelled_order_;
};

// The sampling request a message carries in meta["request"].
sampling::GenerationRequest request_of(const StageMessage& message);

}  // namespace baton::worker
