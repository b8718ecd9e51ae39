#include "repl/spool.h"

#include "core/error.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace ferry::repl {

Spool::Spool(Socket& socket, const std::string& parent, uint64_t segment_bytes)
    : socket_(socket), segment_bytes_(segment_bytes) {
  std::string tmpl = parent + "/ferry-spool-XXXXXX";
  if (!::mkdtemp(tmpl.data()))
    throw FerryError(ExitCode::Failed, fmt::format("cannot create a spool directory under {}: {}", parent, std::strerror(errno)));
  dir_ = tmpl;
  thread_ = std::thread([this] { run(); });
}

Spool::~Spool() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (auto& s : segments_)
    if (s.file) std::fclose(s.file);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Spool::run() {
  char chunk[256 * 1024];
  while (!stop_) {
    size_t n = 0;
    std::string failed;
    try {
      n = socket_.read(chunk, sizeof chunk, std::chrono::milliseconds(100));
      if (n == 0) continue;
    } catch (const SocketError& e) {
      failed = e.kind() == SocketError::Kind::Closed ? "the source closed the connection" : e.what();
    }
    std::lock_guard lock(mutex_);
    if (!failed.empty()) {
      error_ = failed;
      cv_.notify_all();
      return;
    }
    if (segments_.empty() || segments_.back().written >= segment_bytes_) {
      Segment seg;
      seg.path = fmt::format("{}/{:06}", dir_, next_segment_++);
      seg.file = std::fopen(seg.path.c_str(), "w+b");
      if (!seg.file) {
        error_ = fmt::format("cannot create spool file {}: {}", seg.path, std::strerror(errno));
        cv_.notify_all();
        return;
      }
      segments_.push_back(seg);
    }
    Segment& back = segments_.back();
    std::fseek(back.file, static_cast<long>(back.written), SEEK_SET);
    if (std::fwrite(chunk, 1, static_cast<size_t>(n), back.file) != static_cast<size_t>(n)) {
      error_ = fmt::format("cannot write spool file {} (disk full?): {}", back.path, std::strerror(errno));
      cv_.notify_all();
      return;
    }
    if (std::fflush(back.file) != 0) {
      error_ = fmt::format("cannot write spool file {} (disk full?): {}", back.path, std::strerror(errno));
      cv_.notify_all();
      return;
    }
    back.written += static_cast<uint64_t>(n);
    received_ += static_cast<uint64_t>(n);
    cv_.notify_all();
  }
}

size_t Spool::read(char* out, size_t max, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, wait, [&] { return consumed_ < received_.load() || error_.has_value(); });
  if (consumed_ == received_.load()) {
    if (error_) throw std::runtime_error(*error_);
    return 0;
  }
  for (;;) {
    Segment& front = segments_.front();
    if (read_offset_ < front.written) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(max, front.written - read_offset_));
      std::fseek(front.file, static_cast<long>(read_offset_), SEEK_SET);
      size_t got = std::fread(out, 1, n, front.file);
      read_offset_ += got;
      consumed_ += got;
      return got;
    }
    // The front segment is used up and a newer one exists: drop it.
    std::fclose(front.file);
    std::remove(front.path.c_str());
    segments_.pop_front();
    read_offset_ = 0;
  }
}

}  // namespace ferry::repl
