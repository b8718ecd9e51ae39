#include "task/alert_runner.h"

#include "core/log.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pthread.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

extern char** environ;

namespace ferry {

AlertRunner::AlertRunner(std::string command, double timeout_s)
    : command_(std::move(command)), timeout_s_(timeout_s), thread_([this] { run(); }) {}

AlertRunner::~AlertRunner() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AlertRunner::post(const nlohmann::json& event) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      log::error("alert {} not run: {} alerts wait for the alert command already (it is too slow)",
                 event.value("event", "?"), queue_.size());
      return;
    }
    queue_.push_back(event);
  }
  cv_.notify_all();
}

void AlertRunner::run() {
  // A command that exits without reading its stdin: the write fails with EPIPE here instead of a
  // SIGPIPE ending ferry (write_all takes the signal back).
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  for (;;) {
    nlohmann::json event;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    run_one(event);
  }
}

namespace {

// Writes all of `text` to `fd` (a pipe), giving up when the reader has gone.
void write_all(int fd, const std::string& text) {
  size_t at = 0;
  while (at < text.size()) {
    ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) {  // the signal this thread blocks is pending: take it
      sigset_t pipe_signal;
      sigemptyset(&pipe_signal);
      sigaddset(&pipe_signal, SIGPIPE);
      const timespec now{0, 0};
      sigtimedwait(&pipe_signal, nullptr, &now);
    }
    if (n <= 0) return;
    at += static_cast<size_t>(n);
  }
}

}  // namespace

void AlertRunner::run_one(const nlohmann::json& event) {
  const std::string name = event.value("event", "?");
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    log::error("alert {}: cannot run the alert command: pipe: {}", name, std::strerror(errno));
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);

  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "FERRY_ALERT_EVENT=", 18) != 0) env_text.emplace_back(*e);
  env_text.push_back("FERRY_ALERT_EVENT=" + name);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command_;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  if (rc != 0) {
    ::close(in[1]);
    log::error("alert {}: cannot run the alert command with /bin/sh: {}", name, std::strerror(rc));
    return;
  }
  write_all(in[1], event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  ::close(in[1]);

  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      log::error("alert {}: waiting for the alert command: {}", name, std::strerror(errno));
      return;
    }
    if (std::chrono::steady_clock::now() > until) {
      ::kill(-pid, SIGKILL);  // its process group: the shell and what it started
      ::waitpid(pid, &status, 0);
      log::error("alert {}: the alert command ran longer than {} s (--alert-timeout) and was killed", name, timeout_s_);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    log::error("alert {}: the alert command exited with {}", name, WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    log::error("alert {}: the alert command was killed by signal {}", name, WTERMSIG(status));
  else
    log::debug("alert {}: the alert command ran", name);
}

}  // namespace ferry
