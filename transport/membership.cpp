#include "transport/membership.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/log.h"

#ifdef BATON_WITH_MPI
#include <mpi.h>
#endif

namespace baton::transport {
namespace {

// Values a collective carries are endpoints and ids: small.
constexpr int64_t kMaxCollectiveBytes = 1 << 20;

std::string this_host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

bool is_loopback(const in_addr& address) { return (ntohl(address.s_addr) >> 24) == 127; }

std::string to_text(const in_addr& address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

// This host's IPv4 address as other hosts reach it: what its name resolves to,
// else the first interface that is up and not loopback.
std::string network_address() {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (getaddrinfo(this_host_name().c_str(), nullptr, &hints, &found) == 0) {
    for (addrinfo* a = found; a; a = a->ai_next) {
      const auto& address = reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr;
      if (!is_loopback(address)) {
        std::string text = to_text(address);
        freeaddrinfo(found);
        return text;
      }
    }
    freeaddrinfo(found);
  }
  ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) == 0) {
    for (ifaddrs* i = interfaces; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
      const auto& address = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr;
      if (!is_loopback(address)) {
        std::string text = to_text(address);
        freeifaddrs(interfaces);
        return text;
      }
    }
    freeifaddrs(interfaces);
  }
  throw Error("cannot find a network address of host " + this_host_name() + " for the ZeroMQ transport",
              "set BATON_TRANSPORT_ADDRESS to this host's address on the network the ranks share");
}

const char* mpi_launcher_variable() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name)) return name;
  }
  return nullptr;
}

#ifdef BATON_WITH_MPI
void check_mpi(int code, const std::string& what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error("MPI " + what + " failed: " + std::string(text, length));
}

// Nonblocking collectives polled against a deadline: MPI itself has none.
// `broken` is set when one fails: MPI cannot be finalised after that.
void wait_for(MPI_Request& request, const std::string& what, std::chrono::milliseconds timeout, bool& broken) {
  broken = true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int done = 0;
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) {
      broken = false;
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      char budget[32];
      std::snprintf(budget, sizeof budget, "%.1f s", timeout.count() / 1000.0);
      throw Error("MPI " + what + ": not every rank joined within " + budget,
                  "a rank may have failed before reaching it; check every rank's log");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}
#endif

}  // namespace

bool Membership::launched_by_mpi() { return mpi_launcher_variable() != nullptr; }

int Membership::launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* value = std::getenv(name); value && *value) return std::atoi(value);
  return -1;
}

std::unique_ptr<Membership> Membership::join(const MembershipOptions& options) {
  std::unique_ptr<Membership> m(new Membership());
  m->options_ = options;
  m->thread_ = std::this_thread::get_id();
  const char* launcher = mpi_launcher_variable();
  if (!launcher) {
    m->hosts_ = {this_host_name()};
    return m;
  }
#ifdef BATON_WITH_MPI
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  require(!finalised, "MPI was already finalised in this process; a job is joined once");
  if (!initialised) {
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "initialisation");
    require(provided >= MPI_THREAD_FUNNELED, "the MPI library does not provide MPI_THREAD_FUNNELED");
    m->owns_mpi_ = true;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  m->mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &m->rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &m->size_);
  log::set_rank(m->rank_, m->size_);
  m->hosts_ = m->allgather(this_host_name());
  const std::string& mine = m->hosts_[m->rank_];
  m->local_rank_ = static_cast<int>(std::count(m->hosts_.begin(), m->hosts_.begin() + m->rank_, mine));
  m->local_size_ = static_cast<int>(std::count(m->hosts_.begin(), m->hosts_.end(), mine));
  spdlog::debug("joined the job as rank {} of {} (local rank {} of {} on {})", m->rank_, m->size_, m->local_rank_,
                m->local_size_, mine);
  return m;
#else
  throw Error(
      std::string("launched by an MPI launcher (") + launcher + " is set), but this baton was built without MPI",
      "rebuild with OpenMPI installed (libopenmpi-dev), or run without mpirun");
#endif
}

Membership::~Membership() {
#ifdef BATON_WITH_MPI
  if (owns_mpi_ && !broken_) {  // after a failed collective MPI_Finalize could wait forever
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Finalize();
  }
#endif
}

bool Membership::single_host() const {
  return std::all_of(hosts_.begin(), hosts_.end(), [&](const std::string& h) { return h == hosts_[0]; });
}

void Membership::check_thread(const char* what) const {
  require(std::this_thread::get_id() == thread_,
          std::string("Membership::") + what + " called from a thread other than the one that joined the job",
          "MPI runs with MPI_THREAD_FUNNELED: make MPI calls from the main thread");
}

std::vector<std::string> Membership::allgather(const std::string& value) const {
  require(static_cast<int64_t>(value.size()) <= kMaxCollectiveBytes, "allgather: value too large");
  if (!mpi_) return {value};
  check_thread("allgather");
#ifdef BATON_WITH_MPI
  int64_t length = static_cast<int64_t>(value.size());
  std::vector<int64_t> lengths(size_);
  MPI_Request request;
  check_mpi(MPI_Iallgather(&length, 1, MPI_INT64_T, lengths.data(), 1, MPI_INT64_T, MPI_COMM_WORLD, &request),
            "allgather");
  wait_for(request, "allgather of lengths", options_.collective_timeout, broken_);
  std::vector<int> counts(size_), displacements(size_);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    require(lengths[r] >= 0 && lengths[r] <= kMaxCollectiveBytes,
            "allgather: rank " + std::to_string(r) + " sent a length of " + std::to_string(lengths[r]));
    counts[r] = static_cast<int>(lengths[r]);
    displacements[r] = total;
    total += counts[r];
  }
  std::string buffer(total, '\0');
  check_mpi(MPI_Iallgatherv(value.data(), counts[rank_], MPI_CHAR, buffer.data(), counts.data(), displacements.data(),
                            MPI_CHAR, MPI_COMM_WORLD, &request),
            "allgather");
  wait_for(request, "allgather", options_.collective_timeout, broken_);
  std::vector<std::string> values(size_);
  for (int r = 0; r < size_; ++r) values[r] = buffer.substr(displacements[r], counts[r]);
  return values;
#else
  return {value};
#endif
}

std::string Membership::broadcast(const std::string& value, int root) const {
  require(root >= 0 && root < size_, "broadcast: root " + std::to_string(root) + " is not a rank");
  require(static_cast<int64_t>(value.size()) <= kMaxCollectiveBytes, "broadcast: value too large");
  if (!mpi_) return value;
  check_thread("broadcast");
#ifdef BATON_WITH_MPI
  int64_t length = rank_ == root ? static_cast<int64_t>(value.size()) : 0;
  MPI_Request request;
  check_mpi(MPI_Ibcast(&length, 1, MPI_INT64_T, root, MPI_COMM_WORLD, &request), "broadcast");
  wait_for(request, "broadcast of the length", options_.collective_timeout, broken_);
  require(length >= 0 && length <= kMaxCollectiveBytes, "broadcast: bad length " + std::to_string(length));
  std::string buffer = rank_ == root ? value : std::string(static_cast<size_t>(length), '\0');
  check_mpi(MPI_Ibcast(buffer.data(), static_cast<int>(length), MPI_CHAR, root, MPI_COMM_WORLD, &request), "broadcast");
  wait_for(request, "broadcast", options_.collective_timeout, broken_);
  return buffer;
#else
  return value;
#endif
}

void Membership::barrier() const {
  if (!mpi_) return;
  check_thread("barrier");
#ifdef BATON_WITH_MPI
  MPI_Request request;
  check_mpi(MPI_Ibarrier(MPI_COMM_WORLD, &request), "barrier");
  wait_for(request, "barrier", options_.collective_timeout, broken_);
#endif
}

void Membership::abort(const std::string& message, int exit_code) const {
  spdlog::critical("rank {} of {} ends the job: {}", rank_, size_, message);
  spdlog::default_logger()->flush();
  std::fflush(stdout);
  std::fflush(stderr);
#ifdef BATON_WITH_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, exit_code);
#endif
  std::_Exit(exit_code);
}

std::string Membership::transport_address() const {
  if (const char* forced = std::getenv("BATON_TRANSPORT_ADDRESS"); forced && *forced) return forced;
  if (single_host()) return "127.0.0.1";
  return network_address();
}

}  // namespace baton::transport
