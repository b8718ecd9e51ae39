#include "redis/connection.h"

#include "core/log.h"
#include "redis/command_keys.h"
#include "redis/dialer.h"

#include <fmt/format.h>

#include <charconv>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <hiredis/sds.h>


namespace ferry {
namespace {

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = Reply::Type::String; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = Reply::Type::Status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = Reply::Type::Error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = Reply::Type::Integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: out.type = Reply::Type::Nil; break;
  }
  return out;
}

size_t args_bytes(const Args& args) {
  size_t n = 16;
  for (const auto& a : args) n += a.size() + 16;
  return n;
}

// The command name for messages: never the arguments (they may hold a password or big values).
std::string command_name(const Args& args) {
  if (args.empty()) return "";
  std::string name = args[0];
  if (args.size() > 1 && (name == "CONFIG" || name == "MEMORY" || name == "XINFO" || name == "XGROUP" ||
                          name == "CLIENT" || name == "ACL"))
    name += " " + args[1];
  return name;
}

}  // namespace

Connection::Connection(const Endpoint& endpoint, std::unique_ptr<Socket> socket, std::chrono::milliseconds read_timeout)
    : socket_(std::move(socket)), reader_(redisReaderCreate()), read_timeout_(read_timeout), endpoint_(endpoint) {}

Connection::~Connection() {
  if (reader_) redisReaderFree(reader_);
}

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, const Timeouts& timeouts) {
  return Dialer(timeouts).connect(endpoint);
}

void Connection::set_credentials(std::string user, std::string password) {
  endpoint_.user = std::move(user);
  endpoint_.password = std::move(password);
}

std::unique_ptr<Socket> Connection::release_socket(std::string& unread) {
  unread.clear();
  if (reader_->buf && reader_->pos < sdslen(reader_->buf)) unread.assign(reader_->buf + reader_->pos, sdslen(reader_->buf) - reader_->pos);
  return std::move(socket_);
}

void Connection::fail_io(const char* doing, const std::string& why, TlsProblem tls) {
  throw LinkError(endpoint_.role, fmt::format("{} failed on {}: {}", doing, describe(), why), tls);
}

void Connection::flush_output() {
  if (out_.empty()) return;
  try {
    socket_->write_all(out_, read_timeout_);
  } catch (const SocketError& e) {
    fail_io("sending commands", e.what(), e.tls_problem());
  }
  out_.clear();
}

std::set<std::string> Connection::module_names() {
  std::set<std::string> out;
  Reply r = command({"MODULE", "LIST"});
  for (const auto& m : r.elements)
    if (const Reply* name = m.field("name")) out.insert(ascii_lower(name->str));
  return out;
}

size_t Connection::unsent_bytes() const { return out_.size(); }

void Connection::append(const Args& args) { resp::append_command(out_, args); }

Reply Connection::read_reply() {
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK)
      throw ProtocolError(endpoint_.role, fmt::format("{} does not answer in the Redis protocol ({}): not a Redis server?",
                                                      describe(), reader_->errstr));
    if (raw) {
      auto* r = static_cast<redisReply*>(raw);
      Reply out = convert(r);
      freeReplyObject(r);
      return out;
    }
    // Nothing complete is buffered: what is queued goes out now (it may be what the reply answers).
    // While replies are buffered, queued commands keep building up into one larger write.
    flush_output();
    char chunk[64 * 1024];
    size_t n = 0;
    try {
      n = socket_->read(chunk, sizeof chunk, read_timeout_);
    } catch (const SocketError& e) {
      fail_io("reading a reply", e.what(), e.tls_problem());
    }
    if (n == 0) fail_io("reading a reply", fmt::format("no reply within {} ms (read timeout)", read_timeout_.count()));
    redisReaderFeed(reader_, chunk, n);
  }
}

Reply Connection::command(const Args& args) {
  append(args);
  return read_reply();
}

Reply Connection::checked(const Args& args) {
  Reply r = command(args);
  if (r.is_error()) {
    auto kind = classify_error(r.str);
    throw CommandError(kind, fmt::format("{} on {} failed: {} ({})", command_name(args), describe(), r.str, explain_error(kind)));
  }
  return r;
}

void Connection::select(int db) {
  if (db == db_) return;
  Reply r = command({"SELECT", std::to_string(db)});
  if (r.is_error())
    throw CommandError(classify_error(r.str), fmt::format("cannot select DB {} on {}: {}", db, describe(), r.str));
  db_ = db;
}

std::map<std::string, std::string> Connection::info(const std::string& section) {
  Reply r = checked({"INFO", section});
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < r.str.size()) {
    size_t end = r.str.find("\r\n", pos);
    if (end == std::string::npos) end = r.str.size();
    std::string_view line(r.str.data() + pos, end - pos);
    if (!line.empty() && line[0] != '#') {
      auto colon = line.find(':');
      if (colon != std::string_view::npos) out.emplace(line.substr(0, colon), line.substr(colon + 1));
    }
    pos = end + 2;
  }
  return out;
}

int Connection::version() {
  if (version_ < 0) {
    auto server = info("server");
    version_string_ = server["redis_version"];
    int major = 0, minor = 0, patch = 0;
    std::sscanf(version_string_.c_str(), "%d.%d.%d", &major, &minor, &patch);
    version_ = major * 10000 + minor * 100 + patch;
  }
  return version_;
}

std::string Connection::version_string() {
  version();
  return version_string_;
}

Pipeline::~Pipeline() {
  // Replies left unread would be taken by the next user of the connection as its own. Their
  // handlers are not called: what they refer to may be gone when an exception got us here.
  try {
    while (!pending_.empty()) {
      pending_.pop_front();
      conn_.read_reply();
    }
  } catch (...) {
  }
}

namespace {
constexpr size_t kEagerWriteBytes = 64 << 10;
}  // namespace

void Pipeline::send(const Args& args, Handler on_reply) {
  size_t bytes = args_bytes(args);
  while (!pending_.empty() && (pending_.size() >= limits_.max_commands || bytes_in_flight_ + bytes > limits_.max_bytes))
    read_one();
  conn_.append(args);
  const bool multi = !args.empty() && is_word(args[0], "MULTI");
  const bool in_transaction = multi || in_multi_;
  if (multi) in_multi_ = true;
  else if (in_multi_ && (is_word(args[0], "EXEC") || is_word(args[0], "DISCARD"))) in_multi_ = false;
  pending_.push_back({bytes, std::move(on_reply), redirect_ ? args : Args{}, in_transaction});
  bytes_in_flight_ += bytes;
  // Written as it builds up rather than when a reply is next awaited, so the server always has
  // commands to work on while ferry prepares more (a blocking write here is the server's back-pressure).
  if (conn_.unsent_bytes() >= kEagerWriteBytes) conn_.flush_output();
}

void Pipeline::read_one() {
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  bytes_in_flight_ -= p.bytes;
  Reply r = conn_.read_reply();
  if (redirect_) {
    if (p.in_transaction) {
      const bool ends = !p.args.empty() && (is_word(p.args[0], "EXEC") || is_word(p.args[0], "DISCARD"));
      held_.push_back({Sent{std::move(p.args), std::move(p.handler)}, std::move(r)});
      if (!ends) return;
      auto held = std::move(held_);
      held_.clear();
      const Reply* redirected = nullptr;
      for (const auto& [sent, reply] : held)
        if (reply.is_error() && is_redirect_(reply)) {
          redirected = &reply;
          break;
        }
      if (redirected) {
        Reply why = *redirected;
        std::vector<Sent> commands;
        for (auto& [sent, reply] : held) commands.push_back(std::move(sent));
        redirect_(std::move(commands), std::move(why));
        return;
      }
      for (auto& [sent, reply] : held) hand_over(std::move(sent), std::move(reply));
      return;
    }
    if (r.is_error() && is_redirect_(r)) {
      std::vector<Sent> one;
      one.push_back({std::move(p.args), std::move(p.handler)});
      redirect_(std::move(one), std::move(r));
      return;
    }
  }
  hand_over(Sent{std::move(p.args), std::move(p.handler)}, std::move(r));
}

void Pipeline::hand_over(Sent&& sent, Reply&& r) {
  if (sent.handler) {
    sent.handler(std::move(r));
  } else if (r.is_error()) {  // nobody asked for this reply: an error must not vanish
    // The caller unwinds: handlers of the commands still in flight may refer to its frames, so
    // their replies will be read and dropped, never handed over.
    for (auto& p : pending_) p.handler = nullptr;
    held_.clear();
    auto kind = classify_error(r.str);
    throw CommandError(kind, fmt::format("pipelined command on {} failed: {} ({})", conn_.describe(), r.str, explain_error(kind)));
  }
}

void Pipeline::drain() {
  while (!pending_.empty()) read_one();
}

void Pipeline::discard() {
  auto redirect = std::move(redirect_);
  redirect_ = nullptr;
  held_.clear();
  for (auto& p : pending_) p.handler = [](Reply&&) {};
  try {
    drain();
  } catch (...) {
    redirect_ = std::move(redirect);
    throw;
  }
  redirect_ = std::move(redirect);
}

}  // namespace ferry
