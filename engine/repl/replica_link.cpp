#include "repl/replica_link.h"

#include "core/log.h"
#include "repl/spool.h"

#include <fmt/format.h>

#include <cstring>

namespace ferry::repl {

ReplicaLink::ReplicaLink(const Dialer& dialer, const Endpoint& source)
    : source_(source), timeouts_(dialer.timeouts()), conn_(dialer.connect(source, "replica")) {
  last_data_ = std::chrono::steady_clock::now();
}

ReplicaLink::~ReplicaLink() {
  spool_.reset();  // its thread reads the socket: stop it first
}

void ReplicaLink::start_spooling(const std::string& dir) { spool_ = std::make_unique<Spool>(*socket_, dir); }

uint64_t ReplicaLink::spooled_pending() const { return spool_ ? spool_->pending() : 0; }

void ReplicaLink::fail(const std::string& what) {
  throw ReplicationLinkError(source_.role, fmt::format("replication link to {}: {}", source_.describe(), what));
}

void ReplicaLink::write_all(const std::string& bytes) {
  try {
    socket_->write_all(bytes, timeouts_.read);
  } catch (const SocketError& e) {
    fail(e.what());
  }
}

bool ReplicaLink::fill(std::chrono::milliseconds wait) {
  constexpr size_t kChunk = 64 * 1024;
  char* into = reader_.prepare(kChunk);
  size_t n = 0;
  try {
    n = spool_ ? spool_->read(into, kChunk, wait) : socket_->read(into, kChunk, wait);
  } catch (const SocketError& e) {
    reader_.commit(0);
    fail(e.kind() == SocketError::Kind::Closed ? "the source closed the connection" : e.what());
  } catch (const std::runtime_error& e) {  // the spool's thread saw the socket fail
    reader_.commit(0);
    fail(e.what());
  }
  reader_.commit(n);
  if (n == 0) {
    if (std::chrono::steady_clock::now() - last_data_ > timeouts_.read)
      fail(fmt::format("nothing received for {} s", timeouts_.read.count() / 1000));
    return false;
  }
  last_data_ = std::chrono::steady_clock::now();
  return true;
}

void ReplicaLink::fill_or_throw() {
  while (!fill(std::chrono::milliseconds(200))) {
    // fill() throws once the read timeout has passed
  }
}

std::string ReplicaLink::read_line(const char* doing) {
  std::string line;
  try {
    while (!reader_.read_line(line)) fill_or_throw();
  } catch (const resp::RespError& e) {
    fail(fmt::format("{}: {}", doing, e.what()));
  }
  return line;
}

void ReplicaLink::handshake(bool rdb_only, int source_version) {
  // Informational; a source that refuses these still serves a replica.
  try {
    conn_->command({"REPLCONF", "listening-port", "0"});
    conn_->command({"REPLCONF", "capa", "eof", "capa", "psync2"});
    if (rdb_only && source_version >= 70000) {
      rdb_only_ = true;
      Reply r = conn_->command({"REPLCONF", "rdb-only", "1"});
      if (r.is_error()) log::debug("{} refused REPLCONF rdb-only: {}", source_.describe(), r.str);
    }
  } catch (const LinkError& e) {
    fail(e.what());
  }
}

PsyncResult ReplicaLink::psync(const std::string& replid, long long offset) {
  // From here the link reads raw bytes: the snapshot is no RESP reply.
  if (conn_) {
    std::string unread;
    socket_ = conn_->release_socket(unread);
    reader_.feed(unread);
    conn_.reset();
  }
  write_all(encode_command({"PSYNC", replid, std::to_string(offset)}));
  std::string line;
  do {
    line = read_line("PSYNC");
  } while (line.empty());  // keepalive newlines
  PsyncResult result;
  if (line.rfind("+FULLRESYNC", 0) == 0) {
    char id[64] = {0};
    long long off = 0;
    if (std::sscanf(line.c_str(), "+FULLRESYNC %63s %lld", id, &off) != 2) fail("malformed +FULLRESYNC: " + line);
    result = {PsyncResult::Kind::FullResync, id, off};
  } else if (line.rfind("+CONTINUE", 0) == 0) {
    std::string new_id = line.size() > 10 ? line.substr(10) : replid;
    result = {PsyncResult::Kind::Continue, new_id, offset};
  } else if (line[0] == '-') {
    auto kind = classify_error(line.substr(1));
    if (kind == RedisErrorKind::NoPerm)
      throw FerryError(ExitCode::Failed, fmt::format("{} refuses PSYNC: {} (the ACL user needs +psync +replconf)",
                                                     source_.describe(), line.substr(1)));
    // Renamed or unknown PSYNC (very old servers, some proxies): plain SYNC, always a full snapshot.
    // Anything else (LOADING, NOMASTERLINK ...) is passing: the caller retries the link.
    if (kind != RedisErrorKind::UnknownCommand) fail("PSYNC refused: " + line.substr(1));
    log::warn("{} refused PSYNC ({}): using SYNC", source_.describe(), line.substr(1));
    write_all(encode_command({"SYNC"}));
    result = {PsyncResult::Kind::FullResync, "?", 0};
  } else {
    fail("unexpected PSYNC reply: " + line.substr(0, 80));
  }
  offset_ = result.offset;
  return result;
}

// The snapshot part of the link as a ByteSource: `$<len>` bytes, or bytes up to the 40-byte EOF
// mark in the diskless form (the mark is recognised at the tail of what has arrived, as Redis does).
class SnapshotSource : public io::ByteSource {
 public:
  SnapshotSource(ReplicaLink& link, std::optional<uint64_t> length, std::string mark)
      : link_(link), length_(length), mark_(std::move(mark)) {}

  size_t read_some(char* out, size_t max) override {
    if (done_) return 0;
    resp::CommandReader& in = link_.reader_;
    if (length_) {
      if (given_ == *length_) return 0;
      while (in.buffered() == 0) link_.fill_or_throw();
      return take(out, std::min<uint64_t>({max, in.buffered(), *length_ - given_}));
    }
    // Diskless: hold back the last 40 bytes until they are known not to be the mark.
    for (;;) {
      std::string_view avail = in.peek();
      if (avail.size() >= mark_.size() && avail.substr(avail.size() - mark_.size()) == mark_) {
        size_t n = std::min(max, avail.size() - mark_.size());
        if (n == 0) {
          in.consume(mark_.size());
          done_ = true;
          return 0;
        }
        return take(out, n);
      }
      if (avail.size() > mark_.size()) return take(out, std::min(max, avail.size() - mark_.size()));
      link_.fill_or_throw();
    }
  }
  std::optional<uint64_t> size() const override { return length_; }
  std::string describe() const override { return "the snapshot from " + link_.describe(); }

 private:
  size_t take(char* out, size_t n) {
    std::memcpy(out, link_.reader_.peek().data(), n);
    link_.reader_.consume(n);
    given_ += n;
    return n;
  }
  ReplicaLink& link_;
  std::optional<uint64_t> length_;
  std::string mark_;
  uint64_t given_ = 0;
  bool done_ = false;
};

std::unique_ptr<io::ByteSource> ReplicaLink::snapshot() {
  std::string line;
  do {
    line = read_line("waiting for the snapshot");  // bare "\n" keepalives while the source prepares it
  } while (line.empty());
  if (line[0] == '-') fail("the source refused the snapshot: " + line.substr(1));
  if (line[0] != '$') fail("unexpected snapshot header: " + line.substr(0, 80));
  if (line.rfind("$EOF:", 0) == 0) {
    std::string mark = line.substr(5);
    if (mark.size() != 40) fail("diskless EOF mark is not 40 bytes");
    return std::make_unique<SnapshotSource>(*this, std::nullopt, mark);
  }
  char* end = nullptr;
  unsigned long long len = std::strtoull(line.c_str() + 1, &end, 10);
  if (end == line.c_str() + 1 || *end) fail("malformed snapshot length: " + line.substr(0, 80));
  snapshot_size_ = len;
  return std::make_unique<SnapshotSource>(*this, len, std::string());
}

bool ReplicaLink::read_command(std::vector<std::string>& args, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    uint64_t before = reader_.command_bytes();
    try {
      if (reader_.next(args)) {
        offset_ += static_cast<long long>(reader_.command_bytes() - before);
        return true;
      }
    } catch (const resp::RespError& e) {
      fail(e.what());
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    fill(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
  }
}

void ReplicaLink::keepalive() {
  // An rdb-only source closes the link once the snapshot is sent: bytes of ours still unread then
  // turn that close into a reset that drops the snapshot's tail. It needs no keepalive either.
  if (rdb_only_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_keepalive_ < std::chrono::seconds(1)) return;
  last_keepalive_ = now;
  write_all("\n");
}

void ReplicaLink::send_ack(long long applied_offset) {
  write_all(encode_command({"REPLCONF", "ACK", std::to_string(applied_offset)}));
}

}  // namespace ferry::repl
