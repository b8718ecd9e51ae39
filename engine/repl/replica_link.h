// A replication link to a source: ferry connects as a replica (the Dialer logs in, then REPLCONF,
// PSYNC or SYNC), receives the snapshot as a byte stream (`$<len>` or the diskless `$EOF:<mark>`
// form, after any bare "\n" keepalives), then the command stream, read by the one RESP command
// reader (resp/command_reader.h), counting the replication offset byte by byte.
#pragma once

#include "io/byte_source.h"
#include "redis/dialer.h"
#include "resp/command_reader.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::repl {

// The replication link itself broke (not the source's side connection): the replica task resumes
// by partial resync.
class ReplicationLinkError : public LinkError {
 public:
  using LinkError::LinkError;
};

// The outcome of PSYNC (see replication.c, slaveTryPartialResynchronization).
struct PsyncResult {
  enum class Kind {
    FullResync,  // +FULLRESYNC <replid> <offset>: a snapshot follows
    Continue,    // +CONTINUE [<new replid>]: the stream resumes at the offset asked for
  };
  Kind kind = Kind::FullResync;
  std::string replid;
  long long offset = 0;  // the offset the stream starts at (the snapshot's, for a full resync)
};

class ReplicaLink {
 public:
  // Connects and logs in (CLIENT SETNAME ...-replica); errors are FerryError(Connection) naming
  // the source.
  ReplicaLink(const Dialer& dialer, const Endpoint& source);
  ~ReplicaLink();
  ReplicaLink(const ReplicaLink&) = delete;
  ReplicaLink& operator=(const ReplicaLink&) = delete;

  // REPLCONF listening-port, REPLCONF capa eof capa psync2, and with rdb_only
  // REPLCONF rdb-only 1 (7.0+: the source sends the snapshot and no stream).
  void handshake(bool rdb_only, int source_version);
  // PSYNC replid offset (PSYNC ? -1 for a full resync); SYNC when the source refuses PSYNC.
  PsyncResult psync(const std::string& replid = "?", long long offset = -1);

  // After a full resync: the snapshot as a byte source that ends where the RDB ends. size() is
  // known in the $<len> form only.
  std::unique_ptr<io::ByteSource> snapshot();
  // The snapshot's size in the $<len> form, once snapshot() has read its header.
  std::optional<uint64_t> snapshot_size() const { return snapshot_size_; }

  // Reads one command of the stream into args; false when none arrived within `wait`. The link
  // breaking, or staying silent longer than the read timeout, throws LinkError.
  bool read_command(std::vector<std::string>& args, std::chrono::milliseconds wait);
  // The replication offset after the last command read.
  long long offset() const { return offset_; }
  // After +CONTINUE from a PSYNC for offset+1: the stream resumes after `offset`.
  void set_offset(long long offset) { offset_ = offset; }

  // REPLCONF ACK <offset>: tells the source what ferry has applied.
  void send_ack(long long applied_offset);
  // A bare newline at most once a second: keeps the source from timing out a replica that is busy
  // applying a snapshot or cleaning up after a full resync (it refreshes repl_ack_time). Not an ACK.
  void keepalive();

  std::string describe() const { return source_.describe(); }

  // From now on a thread reads the socket into files under `dir` at full speed, and everything
  // after (snapshot and stream) is read from there.
  void start_spooling(const std::string& dir);
  // Bytes received but not yet read (spooled on disk).
  uint64_t spooled_pending() const;
  bool spooling() const { return spool_ != nullptr; }

 private:
  friend class SnapshotSource;
  bool fill(std::chrono::milliseconds wait);  // false on timeout
  void fill_or_throw();
  std::string read_line(const char* doing);   // without \r\n
  void write_all(const std::string& bytes);
  [[noreturn]] void fail(const std::string& what);

  Endpoint source_;
  Timeouts timeouts_;
  std::unique_ptr<Connection> conn_;  // until PSYNC: then its socket is the link's
  std::unique_ptr<Socket> socket_;
  resp::CommandReader reader_;
  long long offset_ = 0;
  std::chrono::steady_clock::time_point last_data_;
  std::chrono::steady_clock::time_point last_keepalive_{};
  bool rdb_only_ = false;
  std::optional<uint64_t> snapshot_size_;
  std::unique_ptr<class Spool> spool_;
};

}  // namespace ferry::repl
