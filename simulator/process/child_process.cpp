#include <utility>  // before Boost.Process: g++ 12 with -std=c++20 needs it (TOOLCHAIN.md)

#include "process/child_process.h"

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace ferry::sim {

namespace bp = boost::process;

struct ChildProcess::Impl {
  bp::child child;
};

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path) {
  if (argv.empty()) throw std::invalid_argument("ChildProcess: no program");
  std::string exe = argv[0].find('/') == std::string::npos ? bp::search_path(argv[0]).string() : argv[0];
  if (exe.empty()) exe = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  try {
    impl_ = std::make_unique<Impl>(Impl{bp::child(bp::exe = exe, bp::args = rest, bp::std_out > stdout_path,
                                                  bp::std_err > stderr_path, bp::std_in < bp::null,
                                                  bp::extend::on_exec_setup = [](auto&) { ::prctl(PR_SET_PDEATHSIG, SIGKILL); })});
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("cannot run {}: {}", exe, e.what()));
  }
  pid_ = impl_->child.id();
}

ChildProcess::~ChildProcess() {
  if (!exit_code_ && pid_ > 0) ::kill(pid_, SIGKILL);
  std::error_code ec;
  if (impl_->child.valid()) impl_->child.wait(ec);
}

bool ChildProcess::running() {
  if (exit_code_) return false;
  std::error_code ec;
  return impl_->child.running(ec);
}

void ChildProcess::signal(int sig) {
  if (!exit_code_ && pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait(double seconds) {
  if (exit_code_) return exit_code_;
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::error_code ec;
  while (impl_->child.running(ec)) {
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  impl_->child.wait(ec);
  int native = impl_->child.native_exit_code();
  exit_code_ = WIFSIGNALED(native) ? 128 + WTERMSIG(native) : impl_->child.exit_code();
  return exit_code_;
}

}  // namespace ferry::sim
