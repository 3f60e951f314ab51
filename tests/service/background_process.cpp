#include "tests/service/background_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {

BackgroundProcess::BackgroundProcess(const std::string& command, const std::string& log_path, int limit_s)
    : log_path_(log_path) {
  std::string quoted;
  for (char c : command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  // --foreground: timeout passes a signal to its child only (without it, to
  // the whole group, and mpirun takes a second SIGTERM as "kill the ranks now").
  const std::string line = "exec timeout --foreground -s KILL " + std::to_string(limit_s) + " sh -c '" + quoted + "' >" + log_path +
                           " 2>&1 </dev/null";
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);  // its own group: stop() signals it and its children, not us
    ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also here, so a stop() right away finds the group
}

BackgroundProcess::~BackgroundProcess() { stop(); }

std::string BackgroundProcess::log() const { return read_file(log_path_); }

bool BackgroundProcess::running() {
  if (pid_ < 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
  return false;
}

int BackgroundProcess::stop(int signal, int wait_s) {
  if (!running()) return status_;
  // A stop request goes to `timeout` alone, which passes it on to its child once.
  ::kill(signal == SIGKILL ? -pid_ : pid_, signal);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  while (running()) {
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

ServerProcess::ServerProcess(const std::string& env, const std::string& args, const std::string& log_path,
                             const std::string& launcher, int ready_s)
    : process_("exec env " + env + " " + launcher + " " + baton_command() + " serve " + args, log_path) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(ready_s);
  while (std::chrono::steady_clock::now() < until) {
    const std::string text = log();
    const auto at = text.find("listening on ");
    if (at != std::string::npos) {
      const auto begin = at + 13;
      endpoint_ = text.substr(begin, text.find(' ', begin) - begin);
      return;
    }
    if (!process_.running())
      throw std::runtime_error("baton serve exited before listening:\n" + text);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("baton serve did not print its endpoint within " + std::to_string(ready_s) + " s:\n" + log());
}

}  // namespace baton::test
