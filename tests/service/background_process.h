#pragma once
// A program a test starts in the background (`baton serve`, a `baton batch`
// to kill): its own process group, its output in a file, and always stopped
// (SIGTERM, then SIGKILL) when the object goes. The command runs under
// `timeout` too, so it ends even if the test process dies.
#include <sys/types.h>

#include <string>

namespace baton::test {

class BackgroundProcess {
 public:
  // Runs `command` (a shell line) with stdout and stderr in `log_path`.
  BackgroundProcess(const std::string& command, const std::string& log_path, int limit_s = 600);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  std::string log() const;
  bool running();
  // Sends `signal` (SIGKILL: to the whole group) and waits at most `wait_s`
  // (then SIGKILLs the group). The exit status, 128+N when ended by signal N.
  int stop(int signal = 15, int wait_s = 20);

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  int status_ = -1;
};

// `baton serve ARGS` (after `launcher`, e.g. mpirun, and with `env` before
// it), waited for until it prints "listening on ENDPOINT".
class ServerProcess {
 public:
  ServerProcess(const std::string& env, const std::string& args, const std::string& log_path,
                const std::string& launcher = "", int ready_s = 120);
  const std::string& endpoint() const { return endpoint_; }
  std::string log() const { return process_.log(); }
  int stop(int wait_s = 20) { return process_.stop(15, wait_s); }

 private:
  BackgroundProcess process_;
  std::string endpoint_;
};

}  // namespace baton::test
