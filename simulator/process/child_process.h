// A program run as a child (ferry itself, in scenarios), its stdout and stderr going to files. The
// child gets PR_SET_PDEATHSIG(SIGKILL): it dies with the process that started it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::sim {

class ChildProcess {
 public:
  // argv[0] is the program (searched in PATH when it has no '/').
  ChildProcess(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path);
  ~ChildProcess();  // SIGKILL if still running, then reaps it
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // The exit code (128 + signal when killed), or nullopt when still running after `seconds`.
  std::optional<int> wait(double seconds);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace ferry::sim
