#include "verify/cutover_watch.h"

#include "core/log.h"
#include "redis/command_keys.h"
#include "repl/replica_link.h"

#include <fmt/format.h>

#include <chrono>

namespace ferry {

std::unique_ptr<CutoverWatch> CutoverWatch::start(const Dialer& dialer, const Endpoint& source, const Position& at,
                                                  std::string& why_not) {
  try {
    auto link = std::make_unique<repl::ReplicaLink>(dialer, source);
    link->handshake(false, 0);
    repl::PsyncResult psync = link->psync(at.replid, at.offset + 1);
    if (psync.kind != repl::PsyncResult::Kind::Continue) {
      why_not = fmt::format("{} cannot replay its stream from offset {} (its backlog no longer covers it, or the replication "
                            "id changed): keys written after the cutover are not told apart",
                            source.describe(), at.offset + 1);
      return nullptr;
    }
    link->set_offset(at.offset);
    return std::unique_ptr<CutoverWatch>(new CutoverWatch(std::move(link), at));
  } catch (const FerryError& e) {
    why_not = fmt::format("cannot watch {} from the cutover offset: {}", source.describe(), e.what());
    return nullptr;
  }
}

CutoverWatch::CutoverWatch(std::unique_ptr<repl::ReplicaLink> link, const Position& at)
    : link_(std::move(link)), from_(at.offset), stream_db_(at.stream_db), read_offset_(at.offset) {
  thread_ = std::thread([this] { run(); });
}

CutoverWatch::~CutoverWatch() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void CutoverWatch::note(int db, const std::string& key) {
  std::lock_guard lock(mu_);
  if (written_.size() >= kMaxKeys) {
    overflowed_ = true;
    return;
  }
  written_.emplace(db, log::printable(key));
}

void CutoverWatch::run() {
  std::vector<std::string> args;
  auto last_ack = std::chrono::steady_clock::now();
  try {
    while (!stop_) {
      if (link_->read_command(args, std::chrono::milliseconds(100)) && !args.empty()) {
        const std::string name = ascii_upper(args[0]);
        if (name == "SELECT" && args.size() > 1) stream_db_ = std::atoi(args[1].c_str());
        else
          for (size_t i : command_keys(name, args).written) note(stream_db_, args[i]);
        read_offset_ = link_->offset();
      }
      // Acknowledged as a replica does, so the source keeps the link.
      if (std::chrono::steady_clock::now() - last_ack > std::chrono::seconds(1)) {
        link_->send_ack(link_->offset());
        last_ack = std::chrono::steady_clock::now();
      }
    }
  } catch (const FerryError& e) {
    log::warn("the cutover watch stopped: {}", e.what());
  }
}

void CutoverWatch::catch_up(long long source_offset, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (read_offset_.load() < source_offset && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

bool CutoverWatch::written_since(int db, const std::string& printable_key) const {
  std::lock_guard lock(mu_);
  return written_.count({db, printable_key}) > 0;
}

size_t CutoverWatch::keys() const {
  std::lock_guard lock(mu_);
  return written_.size();
}

}  // namespace ferry
