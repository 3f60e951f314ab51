#pragma once
// Who is in the job (design.md, Launch and membership). Under mpirun/srun MPI
// gives rank, size and host names, and carries the few start-up collectives
// (endpoint exchange, the NCCL unique id); a fatal error aborts the whole job.
// Without an MPI launcher the process is a job of one.
//
// MPI is initialised with MPI_THREAD_FUNNELED: only the thread that called
// join() makes MPI calls (the collectives check it). MPI carries no data;
// the data plane is ZeroMQ and NCCL, which have their own threads.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace baton::transport {

struct MembershipOptions {
  // How long a collective waits for every rank to join it.
  std::chrono::milliseconds collective_timeout{120000};
};

class Membership {
 public:
  // Under an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK set)
  // initialises MPI and gathers the host names; otherwise rank 0 of 1.
  // Throws Error when launched by MPI but built without it.
  static std::unique_ptr<Membership> join(const MembershipOptions& options = {});
  // True when this process was started by an MPI launcher.
  static bool launched_by_mpi();
  // This process's rank as the launcher set it (OMPI_COMM_WORLD_RANK,
  // PMI_RANK, PMIX_RANK), before join(); -1 when not launched by MPI. Under
  // mpirun only rank 0 speaks for the job: the others keep quiet about
  // mistakes every rank meets alike.
  static int launcher_rank();

  // Finalises MPI when join() initialised it.
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank among the ranks on this host (picks the local GPU), and their number.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool distributed() const { return mpi_; }
  const std::vector<std::string>& host_names() const { return hosts_; }
  bool single_host() const;

  // Collectives: every rank calls them, in the same order, from the joining
  // thread. Each waits at most collective_timeout, then throws Error (call
  // abort() after that: MPI cannot go on).
  std::vector<std::string> allgather(const std::string& value) const;
  std::string broadcast(const std::string& value, int root) const;
  void barrier() const;

  // Logs `message` and ends the whole job (MPI_Abort; without MPI, this process).
  [[noreturn]] void abort(const std::string& message, int exit_code = 1) const;

  // The address this rank's ZeroMQ inbox binds and publishes: 127.0.0.1 when
  // every rank is on one host, else this host's network address;
  // BATON_TRANSPORT_ADDRESS overrides both.
  std::string transport_address() const;

 private:
  Membership() = default;
  void check_thread(const char* what) const;

  bool mpi_ = false;
  bool owns_mpi_ = false;       // join() initialised MPI, so the destructor finalises it
  mutable bool broken_ = false;  // a collective failed: never finalise
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  std::vector<std::string> hosts_;
  MembershipOptions options_;
  std::thread::id thread_;
};

}  // namespace baton::transport
