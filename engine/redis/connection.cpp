#include "redis/connection.h"

#include "core/log.h"
#include "redis/command_keys.h"

#include <fmt/format.h>

#include <charconv>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <sys/time.h>

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

timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
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

Connection::Connection(const Endpoint& endpoint, redisContext* ctx) : ctx_(ctx), endpoint_(endpoint) {}

Connection::~Connection() {
  if (ctx_) redisFree(ctx_);
}

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, const Timeouts& timeouts) {
  redisContext* ctx = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, to_timeval(timeouts.connect));
  if (!ctx) throw FerryError(ExitCode::Connection, fmt::format("{}: cannot allocate a connection", endpoint.describe()));
  if (ctx->err) {
    std::string why = ctx->errstr;
    redisFree(ctx);
    throw FerryError(ExitCode::Connection, fmt::format("cannot connect to {}: {}", endpoint.describe(), why));
  }
  redisSetTimeout(ctx, to_timeval(timeouts.read));
  std::unique_ptr<Connection> conn(new Connection(endpoint, ctx));

  auto auth_failed = [&](const Reply& r) {
    auto kind = classify_error(r.str);
    return FerryError(ExitCode::Connection,
                      fmt::format("cannot authenticate to {}: {} ({})", endpoint.describe(),
                                  kind == RedisErrorKind::WrongPass ? "wrong user name or password" : r.str.substr(0, 80),
                                  kind == RedisErrorKind::WrongPass ? "WRONGPASS" : "AUTH failed"));
  };
  if (endpoint.password) {
    const std::string& password = *endpoint.password;
    Reply r = endpoint.user.empty() ? conn->command({"AUTH", password})
                                    : conn->command({"AUTH", endpoint.user, password});
    // Cloud consoles give ACL credentials as one "user:password" password: try that split too.
    bool no_password_configured = r.is_error() && r.str.find("without any password configured") != std::string::npos;
    if (r.is_error() && endpoint.user.empty() && password.find(':') != std::string::npos &&
        (classify_error(r.str) == RedisErrorKind::WrongPass || no_password_configured)) {
      auto colon = password.find(':');
      Reply split = conn->command({"AUTH", password.substr(0, colon), password.substr(colon + 1)});
      if (!split.is_error()) {
        conn->endpoint_.user = password.substr(0, colon);
        conn->endpoint_.password = password.substr(colon + 1);
        r = split;
      }
    }
    if (r.is_error()) {
      // "AUTH <password> called without any password configured" means no password is needed.
      if (r.str.find("without any password configured") == std::string::npos) throw auth_failed(r);
      log::warn("{} has no password configured; the given password was not needed", endpoint.describe());
    }
  } else if (!endpoint.user.empty()) {
    throw FerryError(ExitCode::Usage, fmt::format("{}: user '{}' given without a password", endpoint.describe(), endpoint.user));
  }
  Reply pong = conn->command({"PING"});
  if (pong.is_error()) {
    auto kind = classify_error(pong.str);
    if (kind == RedisErrorKind::NoAuth)
      throw FerryError(ExitCode::Connection, fmt::format("cannot use {}: {} (NOAUTH)", endpoint.describe(), explain_error(kind)));
    if (kind == RedisErrorKind::Loading)
      throw FerryError(ExitCode::Connection, fmt::format("cannot use {}: {} (LOADING)", endpoint.describe(), explain_error(kind)));
    if (kind != RedisErrorKind::NoPerm)  // an ACL user may lack +ping; its real commands will tell
      throw FerryError(ExitCode::Connection, fmt::format("cannot use {}: PING answered {}", endpoint.describe(), pong.str));
  }
  // The version, asked now: asked later, with pipelined replies outstanding, its reply would be
  // mistaken (a user without +info is asked when version() is first called).
  try {
    conn->version();
  } catch (const CommandError&) {
  }
  log::debug("connected to {}", endpoint.describe());
  return conn;
}

void Connection::fail_io(const char* doing) {
  std::string why = ctx_->errstr[0] ? ctx_->errstr : "connection error";
  if (ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) why = "read timed out";
  if (ctx_->err == REDIS_ERR_EOF) why = "server closed the connection";
  throw LinkError(endpoint_.role, fmt::format("{} failed on {}: {}", doing, describe(), why));
}

void Connection::flush_output() {
  int done = 0;
  while (!done)
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) fail_io("sending commands");
}

std::set<std::string> Connection::module_names() {
  std::set<std::string> out;
  Reply r = command({"MODULE", "LIST"});
  for (const auto& m : r.elements)
    for (size_t i = 0; i + 1 < m.elements.size(); i += 2)
      if (m.elements[i].str == "name") out.insert(ascii_lower(m.elements[i + 1].str));
  return out;
}

size_t Connection::unsent_bytes() const { return ctx_->obuf ? sdslen(ctx_->obuf) : 0; }

std::string encode_command(const Args& args) {
  size_t size = 16;
  for (const auto& a : args) size += a.size() + 24;
  std::string resp;
  resp.reserve(size);
  char head[32];
  auto put_len = [&](char kind, size_t n) {
    head[0] = kind;
    auto [end, ec] = std::to_chars(head + 1, head + sizeof head - 2, n);
    end[0] = '\r';
    end[1] = '\n';
    resp.append(head, static_cast<size_t>(end + 2 - head));
  };
  put_len('*', args.size());
  for (const auto& a : args) {
    put_len('$', a.size());
    resp.append(a);
    resp.append("\r\n", 2);
  }
  return resp;
}

void Connection::append(const Args& args) {
  // Formatted here: hiredis's own formatting (sdscatfmt per argument) was the largest cost of a
  // snapshot of small keys.
  const std::string resp = encode_command(args);
  if (redisAppendFormattedCommand(ctx_, resp.data(), resp.size()) != REDIS_OK) fail_io("sending a command");
}

Reply Connection::read_reply() {
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) fail_io("reading a reply");
  auto* r = static_cast<redisReply*>(raw);
  Reply out = convert(r);
  freeReplyObject(r);
  return out;
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
  pending_.push_back({bytes, std::move(on_reply)});
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
  if (p.handler) {
    p.handler(std::move(r));
  } else if (r.is_error()) {  // nobody asked for this reply: an error must not vanish
    // The caller unwinds: handlers of the commands still in flight may refer to its frames, so
    // their replies will be read and dropped, never handed over.
    for (auto& p : pending_) p.handler = nullptr;
    auto kind = classify_error(r.str);
    throw CommandError(kind, fmt::format("pipelined command on {} failed: {} ({})", conn_.describe(), r.str, explain_error(kind)));
  }
}

void Pipeline::drain() {
  while (!pending_.empty()) read_one();
}

void Pipeline::discard() {
  for (auto& p : pending_) p.handler = [](Reply&&) {};
  drain();
}

}  // namespace ferry
