// The NCCL transport (nccl_channel.h). Compiled only with BATON_WITH_NCCL.
#include "transport/nccl_channel.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "transport/tensor_codec.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "the NCCL transport needs NCCL 2.14 or newer (nonblocking communicators)"
#endif

namespace baton::transport {
namespace {

using Clock = std::chrono::steady_clock;

void check_cuda(cudaError_t code, const std::string& what) {
  if (code != cudaSuccess) throw Error("CUDA " + what + " failed: " + cudaGetErrorString(code));
}

// Sets the current CUDA device for a scope (NCCL and event calls use it).
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check_cuda(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

// One message's NCCL transfer: done when `done` has fired; `keep` holds its
// tensors until then (the caching allocator must not reuse them earlier).
struct Transfer {
  cudaEvent_t done = nullptr;
  std::vector<at::Tensor> keep;
  Clock::time_point deadline;
  std::string what;
};

class NcclChannel : public Channel {
 public:
  NcclChannel(std::shared_ptr<Channel> control, c10::Device device, const NcclChannelOptions& options)
      : Channel(control->peer(), device, control->limits()),
        control_(std::move(control)),
        options_(options),
        index_(device.index()) {
    require(device.is_cuda() && device.index() >= 0,
            "NCCL transport: device " + device.str() + " is not a CUDA device with an index");
  }

  ~NcclChannel() override {
    // Let issued transfers finish (bounded), then free the communicators.
    // ncclCommAbort is local: it needs nothing from the peer.
    const auto end = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < end && !failed_ && pending_count() > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stopping_ = true;
    if (watchdog_.joinable()) watchdog_.join();
    abort_communicators("");
    DeviceScope scope(index_);
    std::lock_guard<std::mutex> lock(pending_mutex_);
    for (auto& t : pending_) cudaEventDestroy(t.done);
    pending_.clear();
    if (send_stream_) cudaStreamDestroy(send_stream_);
    if (recv_stream_) cudaStreamDestroy(recv_stream_);
  }

  void set_up(const Deadline& deadline) {
    DeviceScope scope(index_);
    // Each side makes the communicator it sends on and joins the one its peer sends on.
    ncclUniqueId mine;
    check_nccl(ncclGetUniqueId(&mine), nullptr, "ncclGetUniqueId");
    Packet setup;
    setup.envelope.set_protocol_version(kProtocolVersion);
    setup.envelope.mutable_nccl_setup()->set_unique_id(std::string(mine.internal, sizeof mine.internal));
    control_->send_packet(std::move(setup), deadline);
    Packet answer = control_->receive_packet(deadline);
    if (answer.envelope.has_error_report()) throw peer_error("failed: " + answer.envelope.error_report().message());
    if (!answer.envelope.has_nccl_setup()) {
      throw peer_error("sent a " + body_name(answer.envelope) + " where the NCCL set-up was expected");
    }
    ncclUniqueId theirs;
    std::memcpy(theirs.internal, answer.envelope.nccl_setup().unique_id().data(), sizeof theirs.internal);

    std::unique_lock<std::mutex> nccl(nccl_mutex_);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // every NCCL call returns at once; we poll against deadlines
    check_nccl(ncclCommInitRankConfig(&send_comm_, 2, mine, 0, &config), send_comm_, "creating the send communicator");
    check_nccl(ncclCommInitRankConfig(&recv_comm_, 2, theirs, 1, &config), recv_comm_,
               "creating the receive communicator");
    wait_ready(send_comm_, deadline, "creating the send communicator");
    wait_ready(recv_comm_, deadline, "creating the receive communicator");

    int least = 0, greatest = 0;
    check_cuda(cudaDeviceGetStreamPriorityRange(&least, &greatest), "cudaDeviceGetStreamPriorityRange");
    check_cuda(cudaStreamCreateWithPriority(&send_stream_, cudaStreamNonBlocking, greatest), "creating a stream");
    check_cuda(cudaStreamCreateWithPriority(&recv_stream_, cudaStreamNonBlocking, greatest), "creating a stream");

    // Connect both directions now (NCCL connects lazily at the first transfer,
    // which would make the first send wait for the peer's first receive).
    auto one = at::zeros({2}, at::TensorOptions().dtype(at::kByte).device(device()));
    check_nccl(ncclGroupStart(), nullptr, "ncclGroupStart");
    check_nccl(ncclSend(one.data_ptr(), 1, ncclUint8, 1, send_comm_, send_stream_), send_comm_, "connecting");
    check_nccl(ncclRecv(static_cast<uint8_t*>(one.data_ptr()) + 1, 1, ncclUint8, 0, recv_comm_, recv_stream_),
               recv_comm_, "connecting");
    check_nccl(ncclGroupEnd(), nullptr, "connecting");
    wait_ready(send_comm_, deadline, "connecting");
    wait_ready(recv_comm_, deadline, "connecting");
    nccl.unlock();
    for (cudaStream_t stream : {send_stream_, recv_stream_}) {
      cudaEvent_t event = record_event(stream);
      for (;;) {
        const cudaError_t state = cudaEventQuery(event);
        if (state == cudaSuccess) break;
        if (state != cudaErrorNotReady) check_cuda(state, "connecting");
        if (deadline.expired()) {
          cudaEventDestroy(event);
          abort_communicators("the NCCL connection was not made in time");
          throw timeout_error("the NCCL connection was not made", deadline);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      cudaEventDestroy(event);
    }
    watchdog_ = std::thread([this] { watch_transfers(); });
    spdlog::debug("NCCL channel to {} on {} is up", describe_peer(), device().str());
  }

  bool has_pending() const override { return failed_ || control_->has_pending(); }

  std::optional<Error> failure() const override {
    {
      std::lock_guard<std::mutex> lock(pending_mutex_);
      if (failure_) return peer_error(*failure_, "NCCL transfers with this rank were aborted");
    }
    return control_->failure();
  }

  std::optional<Clock::time_point> failure_time() const override {
    {
      std::lock_guard<std::mutex> lock(pending_mutex_);
      if (failure_) return failure_at_;
    }
    return control_->failure_time();
  }

  std::string kind() const override { return "nccl"; }
  void watch(const std::shared_ptr<ArrivalSignal>& signal) override {
    Channel::watch(signal);
    control_->watch(signal);
  }

  void send_packet(Packet packet, const Deadline& deadline) override {
    if (!packet.envelope.has_microbatch() || packet.tensors.empty()) {
      control_->send_packet(std::move(packet), deadline);  // control messages: over ZeroMQ as they are
      return;
    }
    throw_if_failed();
    std::lock_guard<std::mutex> lock(send_mutex_);
    DeviceScope scope(index_);
    std::vector<at::Tensor> ready;
    for (auto& tensor : packet.tensors) ready.push_back(tensor.to(device()).contiguous());
    // The send stream starts after what the caller's stream has queued (the tensors' producers).
    cudaStream_t current = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(index_)).stream();
    wait_for(send_stream_, current);
    Packet header;
    header.envelope = std::move(packet.envelope);
    header.envelope.set_payload_out_of_band(true);
    control_->send_packet(std::move(header), deadline);  // the peer posts its receives from it
    std::unique_lock<std::mutex> nccl(nccl_mutex_);
    throw_if_failed();
    check_nccl(ncclGroupStart(), nullptr, "ncclGroupStart");
    for (const auto& t : ready) {
      if (t.nbytes() > 0) {
        check_nccl(ncclSend(t.data_ptr(), t.nbytes(), ncclUint8, 1, send_comm_, send_stream_), send_comm_, "ncclSend");
      }
    }
    check_nccl(ncclGroupEnd(), send_comm_, "sending");
    wait_ready(send_comm_, deadline, "sending");
    nccl.unlock();
    add_transfer(send_stream_, std::move(ready), "a transfer to the peer");
  }

  Packet receive_packet(const Deadline& deadline) override {
    throw_if_failed();
    std::lock_guard<std::mutex> lock(recv_mutex_);
    Packet packet = control_->receive_packet(deadline);
    if (!packet.envelope.has_microbatch() || !packet.envelope.payload_out_of_band()) return packet;
    DeviceScope scope(index_);
    const auto& descriptors = packet.envelope.microbatch().tensors();
    std::vector<at::Tensor> tensors;
    for (const auto& d : descriptors) {
      std::vector<int64_t> shape(d.shape().begin(), d.shape().end());
      tensors.push_back(at::empty(
          shape, at::TensorOptions().dtype(from_wire_dtype(static_cast<wire::DType>(d.dtype()))).device(device())));
    }
    // Allocated on the caller's stream: NCCL writes only after the caller's
    // earlier work (which may have used the same memory) and the caller's
    // later work waits for NCCL.
    cudaStream_t current = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(index_)).stream();
    wait_for(recv_stream_, current);
    std::unique_lock<std::mutex> nccl(nccl_mutex_);
    throw_if_failed();
    check_nccl(ncclGroupStart(), nullptr, "ncclGroupStart");
    for (auto& t : tensors) {
      if (t.nbytes() > 0) {
        check_nccl(ncclRecv(t.data_ptr(), t.nbytes(), ncclUint8, 0, recv_comm_, recv_stream_), recv_comm_, "ncclRecv");
      }
    }
    check_nccl(ncclGroupEnd(), recv_comm_, "receiving");
    wait_ready(recv_comm_, deadline, "receiving");
    nccl.unlock();
    wait_for(current, recv_stream_);
    packet.tensors = tensors;
    packet.envelope.set_payload_out_of_band(false);
    add_transfer(recv_stream_, std::move(tensors), "a transfer from the peer");
    return packet;
  }

 private:
  void check_nccl(ncclResult_t code, ncclComm_t comm, const std::string& what) {
    if (code == ncclSuccess || code == ncclInProgress) return;
    const char* detail = ncclGetLastError(comm);
    throw peer_error(std::string("NCCL ") + what + " failed: " + ncclGetErrorString(code) +
                     (detail && *detail ? std::string(" (") + detail + ")" : std::string()));
  }

  // Nonblocking communicators: an operation is issued once the state leaves
  // ncclInProgress. Called with nccl_mutex_ held.
  void wait_ready(ncclComm_t comm, const Deadline& deadline, const std::string& what) {
    for (;;) {
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm, &state);
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) {
        abort_locked(std::string("NCCL ") + what + " failed: " + ncclGetErrorString(state));
        throw_if_failed();
      }
      if (auto failed = control_->failure()) {
        abort_locked("the peer failed");
        throw *failed;
      }
      if (deadline.expired()) {
        abort_locked("NCCL " + what + " did not complete within " + deadline.budget_text());
        throw_if_failed();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  cudaEvent_t record_event(cudaStream_t stream) {
    cudaEvent_t event = nullptr;
    check_cuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(event, stream), "cudaEventRecord");
    return event;
  }

  // `waiter` runs its later work only after what `producer` has queued so far.
  void wait_for(cudaStream_t waiter, cudaStream_t producer) {
    cudaEvent_t event = record_event(producer);
    check_cuda(cudaStreamWaitEvent(waiter, event, 0), "cudaStreamWaitEvent");
    cudaEventDestroy(event);  // released once it has fired
  }

  void add_transfer(cudaStream_t stream, std::vector<at::Tensor> keep, const std::string& what) {
    Transfer t{record_event(stream), std::move(keep), Clock::now() + options_.transfer_timeout, what};
    std::lock_guard<std::mutex> lock(pending_mutex_);
    pending_.push_back(std::move(t));
  }

  size_t pending_count() const {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    return pending_.size();
  }

  void fail(const std::string& reason) {
    {
      std::lock_guard<std::mutex> lock(pending_mutex_);
      if (failure_) return;
      failure_ = reason;
      failure_at_ = Clock::now();
    }
    failed_ = true;
    watchers()->notify_all();
  }

  void throw_if_failed() const {
    if (auto failed = failure()) throw *failed;
  }

  // Ends every NCCL operation of this channel (the kernels return) and frees
  // the communicators; the channel fails with `reason` (empty: a clean close).
  // Safe to call more than once.
  void abort_communicators(const std::string& reason) {
    std::lock_guard<std::mutex> nccl(nccl_mutex_);
    abort_locked(reason);
  }
  void abort_locked(const std::string& reason) {
    if (!reason.empty()) fail(reason);
    if (aborted_) return;
    aborted_ = true;
    DeviceScope scope(index_);
    if (send_comm_) ncclCommAbort(send_comm_);
    if (recv_comm_) ncclCommAbort(recv_comm_);
  }

  // The watchdog: releases finished transfers' tensors; aborts when a transfer
  // is overdue, NCCL reports an error, or the peer died.
  void watch_transfers() {
    cudaSetDevice(index_);
    while (!stopping_) {
      std::string problem;
      bool idle = false;
      {
        // Every finished transfer, not only the oldest: a send waiting for the
        // peer's receive must not hold back the memory of later receives.
        std::lock_guard<std::mutex> lock(pending_mutex_);
        const auto now = Clock::now();
        for (auto it = pending_.begin(); it != pending_.end();) {
          const cudaError_t state = cudaEventQuery(it->done);
          if (state == cudaErrorNotReady) {
            if (now > it->deadline && problem.empty()) problem = it->what + " did not complete in time";
            ++it;
            continue;
          }
          if (state != cudaSuccess && problem.empty()) {
            problem = std::string("CUDA error in a transfer: ") + cudaGetErrorString(state);
          }
          cudaEventDestroy(it->done);
          it = pending_.erase(it);
        }
        idle = pending_.empty();
      }
      if (problem.empty() && control_->failure()) problem = "the peer failed";
      {
        std::lock_guard<std::mutex> nccl(nccl_mutex_);
        for (ncclComm_t comm : {send_comm_, recv_comm_}) {
          ncclResult_t state = ncclSuccess;
          if (problem.empty() && !aborted_ && ncclCommGetAsyncError(comm, &state) == ncclSuccess &&
              state != ncclSuccess && state != ncclInProgress) {
            problem = std::string("NCCL reported: ") + ncclGetErrorString(state);
          }
        }
        if (!problem.empty() && !aborted_) {
          // A peer that ended its stream cleanly and then exits is no error.
          if (idle && control_->peer_shut_down())
            spdlog::debug("NCCL channel to {}: {} after its clean end; closing", describe_peer(), problem);
          else
            spdlog::error("NCCL channel to {}: {}; aborting its transfers", describe_peer(), problem);
          abort_locked(problem);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::shared_ptr<Channel> control_;
  NcclChannelOptions options_;
  int index_;
  ncclComm_t send_comm_ = nullptr;  // this rank is rank 0 of it; the peer rank 1
  ncclComm_t recv_comm_ = nullptr;  // the peer is rank 0; this rank is rank 1
  cudaStream_t send_stream_ = nullptr, recv_stream_ = nullptr;
  std::mutex send_mutex_, recv_mutex_;  // a header and its NCCL operations go out (come in) together
  // Guards every use of the communicators against the watchdog's abort. Lock
  // order: send_mutex_/recv_mutex_, then nccl_mutex_, then pending_mutex_.
  std::mutex nccl_mutex_;
  std::atomic<bool> aborted_{false}, failed_{false}, stopping_{false};
  mutable std::mutex pending_mutex_;
  std::deque<Transfer> pending_;
  std::optional<std::string> failure_;
  Clock::time_point failure_at_;
  std::thread watchdog_;
};

}  // namespace

bool nccl_transport_compiled() { return true; }

std::shared_ptr<Channel> make_nccl_channel(std::shared_ptr<Channel> control, c10::Device device,
                                           const Deadline& deadline, const NcclChannelOptions& options) {
  auto channel = std::make_shared<NcclChannel>(std::move(control), device, options);
  try {
    channel->set_up(deadline);
  } catch (Error& e) {
    throw e.with_context("setting up the NCCL channel");
  }
  return channel;
}

}  // namespace baton::transport
