#include "repl/replica_link.h"

#include "core/log.h"
#include "repl/spool.h"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::repl {

ReplicaLink::ReplicaLink(const Endpoint& source, const Timeouts& timeouts) : source_(source), timeouts_(timeouts) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(source.host.c_str(), std::to_string(source.port).c_str(), &hints, &found); rc != 0)
    throw FerryError(ExitCode::Connection, fmt::format("cannot resolve {}: {}", source.describe(), gai_strerror(rc)));
  std::string why = "no address";
  for (addrinfo* a = found; a && fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeouts_.connect.count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 1) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = (rc == 1 && err == 0) ? 0 : -1;
      why = rc == 0 ? "" : err ? std::strerror(err) : "connect timed out";
    } else if (rc != 0) {
      why = std::strerror(errno);
    }
    if (rc == 0) fd_ = fd;
    else ::close(fd);
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) throw FerryError(ExitCode::Connection, fmt::format("cannot connect to {}: {}", source.describe(), why));
  last_data_ = std::chrono::steady_clock::now();
}

ReplicaLink::~ReplicaLink() {
  spool_.reset();  // its thread reads fd_: stop it first
  if (fd_ >= 0) ::close(fd_);
}

void ReplicaLink::start_spooling(const std::string& dir) { spool_ = std::make_unique<Spool>(fd_, dir); }

uint64_t ReplicaLink::spooled_pending() const { return spool_ ? spool_->pending() : 0; }

void ReplicaLink::fail(const std::string& what) {
  throw LinkError(source_.role, fmt::format("replication link to {}: {}", source_.describe(), what));
}

void ReplicaLink::write_all(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(timeouts_.read.count())) != 1) fail("write timed out");
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    fail(fmt::format("write failed: {}", std::strerror(errno)));
  }
}

bool ReplicaLink::fill(std::chrono::milliseconds wait) {
  if (pos_ > 0 && pos_ == buffer_.size()) {
    buffer_.clear();
    need_ = 0;
    pos_ = 0;
  } else if (pos_ > (1 << 20)) {
    buffer_.erase(0, pos_);
    need_ = need_ > pos_ ? need_ - pos_ : 0;
    pos_ = 0;
  }
  if (spool_) {
    char chunk[64 * 1024];
    size_t n = 0;
    try {
      n = spool_->read(chunk, sizeof chunk, wait);
    } catch (const std::runtime_error& e) {
      fail(e.what());
    }
    if (n == 0) {
      if (std::chrono::steady_clock::now() - last_data_ > timeouts_.read)
        fail(fmt::format("nothing received for {} s", timeouts_.read.count() / 1000));
      return false;
    }
    buffer_.append(chunk, n);
    last_data_ = std::chrono::steady_clock::now();
    return true;
  }
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (rc < 0 && errno == EINTR) return false;
  if (rc == 0) {
    if (std::chrono::steady_clock::now() - last_data_ > timeouts_.read)
      fail(fmt::format("nothing received for {} s", timeouts_.read.count() / 1000));
    return false;
  }
  char chunk[64 * 1024];
  ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n == 0) fail("the source closed the connection");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
    fail(fmt::format("read failed: {}", std::strerror(errno)));
  }
  buffer_.append(chunk, static_cast<size_t>(n));
  last_data_ = std::chrono::steady_clock::now();
  return true;
}

void ReplicaLink::fill_or_throw(const char* doing) {
  while (!fill(std::chrono::milliseconds(200))) {
    (void)doing;  // fill() throws once the read timeout has passed
  }
}

std::string ReplicaLink::read_line(const char* doing) {
  for (;;) {
    auto nl = buffer_.find('\n', pos_);
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buffer_.size() - pos_ > (1 << 16)) fail(fmt::format("{}: a line longer than 64 KB", doing));
    fill_or_throw(doing);
  }
}

std::string ReplicaLink::simple_command(const std::vector<std::string>& args, const char* doing) {
  write_all(encode_command(args));
  std::string line = read_line(doing);
  while (line.empty()) line = read_line(doing);  // keepalive newlines
  return line;
}

void ReplicaLink::handshake(bool rdb_only, int source_version) {
  if (source_.password) {
    std::vector<std::string> auth{"AUTH"};
    if (!source_.user.empty()) auth.push_back(source_.user);
    auth.push_back(*source_.password);
    std::string r = simple_command(auth, "AUTH");
    if (r[0] == '-') {
      auto kind = classify_error(r.substr(1));
      throw FerryError(ExitCode::Connection, fmt::format("cannot authenticate the replication link to {}: {}",
                                                         source_.describe(), explain_error(kind)));
    }
  }
  std::string r = simple_command({"PING"}, "PING");
  if (r[0] == '-') {
    auto kind = classify_error(r.substr(1));
    if (kind == RedisErrorKind::NoAuth || kind == RedisErrorKind::WrongPass)
      throw FerryError(ExitCode::Connection, fmt::format("cannot use {} for replication: {}", source_.describe(), r.substr(1)));
  }
  // Informational; a source that refuses these still serves a replica.
  simple_command({"REPLCONF", "listening-port", "0"}, "REPLCONF listening-port");
  simple_command({"REPLCONF", "capa", "eof", "capa", "psync2"}, "REPLCONF capa");
  if (rdb_only && source_version >= 70000) {
    rdb_only_ = true;
    std::string rr = simple_command({"REPLCONF", "rdb-only", "1"}, "REPLCONF rdb-only");
    if (rr[0] == '-') log::debug("{} refused REPLCONF rdb-only: {}", source_.describe(), rr);
  }
}

PsyncResult ReplicaLink::psync(const std::string& replid, long long offset) {
  std::string line = simple_command({"PSYNC", replid, std::to_string(offset)}, "PSYNC");
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
    if (length_) {
      if (given_ == *length_) return 0;
      while (link_.pos_ == link_.buffer_.size()) link_.fill_or_throw("reading the snapshot");
      size_t n = std::min<uint64_t>({max, link_.buffer_.size() - link_.pos_, *length_ - given_});
      std::memcpy(out, link_.buffer_.data() + link_.pos_, n);
      link_.pos_ += n;
      given_ += n;
      return n;
    }
    // Diskless: hold back the last 40 bytes until they are known not to be the mark.
    for (;;) {
      size_t avail = link_.buffer_.size() - link_.pos_;
      if (avail >= mark_.size() &&
          link_.buffer_.compare(link_.buffer_.size() - mark_.size(), mark_.size(), mark_) == 0) {
        size_t n = std::min(max, avail - mark_.size());
        if (n == 0) {
          link_.pos_ = link_.buffer_.size();  // consume the mark
          done_ = true;
          return 0;
        }
        std::memcpy(out, link_.buffer_.data() + link_.pos_, n);
        link_.pos_ += n;
        given_ += n;
        return n;
      }
      if (avail > mark_.size()) {
        size_t n = std::min(max, avail - mark_.size());
        std::memcpy(out, link_.buffer_.data() + link_.pos_, n);
        link_.pos_ += n;
        given_ += n;
        return n;
      }
      link_.fill_or_throw("reading the diskless snapshot");
    }
  }
  std::optional<uint64_t> size() const override { return length_; }
  std::string describe() const override { return "the snapshot from " + link_.describe(); }

 private:
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
  return std::make_unique<SnapshotSource>(*this, len, std::string());
}

bool ReplicaLink::read_command(std::vector<std::string>& args, std::chrono::milliseconds wait) {
  // Parse from the buffer without consuming until a whole command is there. need_ remembers how
  // much must have arrived before a new attempt can get further (no reparsing per chunk).
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (buffer_.size() < need_) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      fill(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
      continue;
    }
    size_t p = pos_;
    auto line_end = [&](size_t from) { return buffer_.find("\r\n", from); };
    bool complete = false;
    args.clear();
    if (p < buffer_.size()) {
      if (buffer_[p] == '\n') {  // a bare newline keepalive: part of no command, not counted
        ++pos_;
        continue;
      }
      if (buffer_[p] != '*') fail(fmt::format("unexpected byte 0x{:02x} in the command stream", buffer_[p]));
      size_t e = line_end(p);
      if (e != std::string::npos) {
        long long n = std::atoll(buffer_.c_str() + p + 1);
        if (n < 0 || n > (1LL << 31)) fail("bad command length in the stream");
        size_t q = e + 2;
        complete = true;
        for (long long i = 0; i < n; ++i) {
          if (q >= buffer_.size()) { complete = false; need_ = q + 1; break; }
          if (buffer_[q] != '$') fail("expected a bulk string in the command stream");
          size_t le = line_end(q);
          if (le == std::string::npos) { complete = false; need_ = buffer_.size() + 1; break; }
          long long len = std::atoll(buffer_.c_str() + q + 1);
          if (len < 0) fail("bad bulk length in the stream");
          if (buffer_.size() < le + 2 + static_cast<size_t>(len) + 2) {
            complete = false;
            need_ = le + 2 + static_cast<size_t>(len) + 2;
            break;
          }
          args.emplace_back(buffer_, le + 2, static_cast<size_t>(len));
          q = le + 2 + static_cast<size_t>(len) + 2;
        }
        if (complete) {
          offset_ += static_cast<long long>(q - pos_);
          pos_ = q;
          need_ = 0;
          return true;
        }
      } else {
        need_ = buffer_.size() + 1;
      }
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
