#include "proxy/fault_proxy.h"

#include "core/error.h"
#include "proxy/faults.h"

#include <utility>  // before Boost 1.74's Asio, which uses std::exchange without including it

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <fcntl.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::sim {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// The client's PSYNC or SYNC, in RESP ("$5\r\nPSYNC\r\n") or inline form.
bool contains_sync(const char* data, size_t n) {
  std::string_view chunk(data, n);
  for (std::string_view needle : {"$5\r\nPSYNC\r\n", "$4\r\nSYNC\r\n", "$5\r\npsync\r\n", "$4\r\nsync\r\n"})
    if (chunk.find(needle) != std::string_view::npos) return true;
  return chunk.rfind("PSYNC ", 0) == 0 || chunk.rfind("SYNC\r\n", 0) == 0;
}

// Sockets must not leak into processes started later (ferry, redis-server): a child holding the
// listening socket would keep the port accepting while a refuse fault has it closed.
template <typename Socket>
void close_on_exec(Socket& s) {
  int fd = s.native_handle();
  ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
}

}  // namespace

struct Session;

struct FaultProxy::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer tick{io};
  tcp::endpoint upstream;
  int port = 0;
  bool accepting = false;

  mutable std::mutex mu;  // faults and rng: added from any thread, planned on the io thread
  std::vector<std::pair<int, std::unique_ptr<Fault>>> faults;
  int next_id = 1;
  std::mt19937_64 rng;

  std::vector<std::weak_ptr<Session>> sessions;  // io thread only
  std::atomic<uint64_t> connections{0}, bytes_up{0}, bytes_down{0}, resets{0}, closes{0}, refusals{0};
  std::thread thread;

  void listen();
  void start_accept();
  void on_tick();
  ChunkPlan plan(Direction d, const LinkCounters& c, size_t bytes);
};

// Named (not anonymous): Session, which FaultProxy::Impl names, holds Pumps.
namespace proxy_detail {

// One direction of a connection: reads a chunk, asks the faults for its plan, forwards it.
struct Pump {
  Session& session;
  Direction dir;
  tcp::socket& from;
  tcp::socket& to;
  std::vector<char> buf = std::vector<char>(64 * 1024);
  size_t have = 0, offset = 0;
  LinkCounters counters;
  asio::steady_timer timer;

  Pump(Session& s, Direction d, tcp::socket& f, tcp::socket& t, asio::io_context& io)
      : session(s), dir(d), from(f), to(t), timer(io) {}
  void read();
  void next();
  void write(size_t n, ChunkPlan plan);
  void wait(std::chrono::microseconds d, std::function<void()> then);
};

}  // namespace proxy_detail

using proxy_detail::Pump;

struct Session : std::enable_shared_from_this<Session> {
  FaultProxy::Impl& impl;
  tcp::socket client, server;
  std::unique_ptr<Pump> up, down;
  bool ended = false;

  Session(FaultProxy::Impl& i, tcp::socket c) : impl(i), client(std::move(c)), server(i.io) {}

  void start() {
    server.open(impl.upstream.protocol());
    close_on_exec(server);
    server.async_connect(impl.upstream, [this, self = shared_from_this()](const error_code& ec) {
      if (ec) return end(ChunkPlan::End::None);
      error_code ignored;  // small pieces must leave as they are written, not wait for Nagle
      client.set_option(tcp::no_delay(true), ignored);
      server.set_option(tcp::no_delay(true), ignored);
      up = std::make_unique<Pump>(*this, Direction::Up, client, server, impl.io);
      down = std::make_unique<Pump>(*this, Direction::Down, server, client, impl.io);
      up->read();
      down->read();
    });
  }

  // Ends both sides: a reset sends RST (linger 0), anything else a FIN.
  void end(ChunkPlan::End how) {
    if (ended) return;
    ended = true;
    error_code ec;
    if (how == ChunkPlan::End::Reset) {
      ++impl.resets;
      client.set_option(asio::socket_base::linger(true, 0), ec);
      server.set_option(asio::socket_base::linger(true, 0), ec);
    } else {
      if (how == ChunkPlan::End::Close) ++impl.closes;
      client.shutdown(tcp::socket::shutdown_both, ec);
      server.shutdown(tcp::socket::shutdown_both, ec);
    }
    client.close(ec);
    server.close(ec);
    if (up) up->timer.cancel();
    if (down) down->timer.cancel();
  }
};

namespace proxy_detail {

void Pump::read() {
  from.async_read_some(asio::buffer(buf), [this, self = session.shared_from_this()](const error_code& ec, size_t n) {
    if (ec || session.ended) return session.end(ChunkPlan::End::None);
    have = n;
    offset = 0;
    if (dir == Direction::Up && !counters.psync_seen && contains_sync(buf.data(), n)) {
      counters.psync_seen = true;
      session.down->counters.psync_seen = true;
    }
    next();
  });
}

void Pump::next() {
  if (session.ended) return;
  if (offset >= have) return read();
  ChunkPlan plan = session.impl.plan(dir, counters, have - offset);
  if (plan.hold) return wait(std::chrono::milliseconds(20), [this] { next(); });
  size_t n = plan.cut ? *plan.cut : have - offset;
  wait(plan.delay, [this, n, plan] { write(n, plan); });
}

void Pump::write(size_t n, ChunkPlan plan) {
  if (session.ended) return;
  if (n == 0) {
    if (plan.end != ChunkPlan::End::None) return session.end(plan.end);
    return next();
  }
  size_t k = plan.piece ? std::min(plan.piece, n) : n;
  asio::async_write(to, asio::buffer(buf.data() + offset, k),
                    [this, self = session.shared_from_this(), n, k, plan](const error_code& ec, size_t) {
                      if (ec || session.ended) return session.end(ChunkPlan::End::None);
                      offset += k;
                      counters.forwarded += k;
                      if (dir == Direction::Down && counters.psync_seen) counters.after_psync += k;
                      (dir == Direction::Up ? session.impl.bytes_up : session.impl.bytes_down) += k;
                      size_t left = n - k;
                      if (left > 0) return wait(plan.piece_delay, [this, left, plan] { write(left, plan); });
                      if (plan.end != ChunkPlan::End::None) return session.end(plan.end);
                      next();
                    });
}

void Pump::wait(std::chrono::microseconds d, std::function<void()> then) {
  if (d.count() <= 0) return then();
  timer.expires_after(d);
  timer.async_wait([this, self = session.shared_from_this(), then = std::move(then)](const error_code& ec) {
    if (ec || session.ended) return;
    then();
  });
}

}  // namespace proxy_detail

ChunkPlan FaultProxy::Impl::plan(Direction d, const LinkCounters& c, size_t bytes) {
  ChunkPlan out;
  auto now = ProxyClock::now();
  std::lock_guard lock(mu);
  for (auto& [id, fault] : faults)
    if (fault->spec().applies_to(d) && fault->in_window(now)) fault->plan(c, bytes, out, rng);
  return out;
}

void FaultProxy::Impl::listen() {
  tcp::endpoint at(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
  acceptor.open(at.protocol());
  close_on_exec(acceptor);
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(at);
  acceptor.listen();
  port = acceptor.local_endpoint().port();
  accepting = true;
  start_accept();
}

void FaultProxy::Impl::start_accept() {
  acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec) {
      if (accepting && ec != asio::error::operation_aborted) start_accept();
      return;
    }
    ++connections;
    close_on_exec(socket);
    auto s = std::make_shared<Session>(*this, std::move(socket));
    sessions.push_back(s);
    s->start();
    start_accept();
  });
}

// Every 10 ms: resets and closes whose time has come end every open connection; refuse faults
// close and reopen the listening socket.
void FaultProxy::Impl::on_tick() {
  auto now = ProxyClock::now();
  std::vector<ChunkPlan::End> ends;
  bool refuse = false;
  {
    std::lock_guard lock(mu);
    for (auto& [id, fault] : faults) {
      if (!fault->in_window(now)) continue;
      if (fault->spec().kind == FaultKind::Refuse) refuse = true;
      if (auto* end = dynamic_cast<EndFault*>(fault.get()); end && !end->has_byte_trigger() && !end->fired()) {
        end->set_fired();
        ends.push_back(fault->spec().kind == FaultKind::Reset ? ChunkPlan::End::Reset : ChunkPlan::End::Close);
      }
    }
  }
  for (auto how : ends)
    for (auto& weak : sessions)
      if (auto s = weak.lock()) s->end(how);
  sessions.erase(std::remove_if(sessions.begin(), sessions.end(), [](const auto& w) { return w.expired(); }), sessions.end());
  if (refuse && accepting) {
    accepting = false;
    ++refusals;
    error_code ec;
    acceptor.close(ec);
  } else if (!refuse && !accepting) {
    try {
      listen();
    } catch (const std::exception&) {
      // the port is busy for a moment: the next tick tries again
    }
  }
  tick.expires_after(std::chrono::milliseconds(10));
  tick.async_wait([this](const error_code& ec) {
    if (!ec) on_tick();
  });
}

FaultProxy::FaultProxy(std::string host, int port, FaultProxyOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->rng.seed(options.seed);
  impl_->port = options.listen_port;
  try {
    tcp::resolver resolver(impl_->io);
    impl_->upstream = *resolver.resolve(host, std::to_string(port)).begin();
    impl_->listen();
  } catch (const std::exception& e) {
    throw FerryError(ExitCode::Usage, fmt::format("fault proxy to {}:{} (listening on {}): {}", host, port,
                                                  options.listen_port, e.what()));
  }
  impl_->on_tick();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

FaultProxy::~FaultProxy() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int FaultProxy::port() const { return impl_->port; }

std::string FaultProxy::uri() const { return fmt::format("redis://127.0.0.1:{}", impl_->port); }

int FaultProxy::add(const FaultSpec& spec) {
  std::lock_guard lock(impl_->mu);
  int id = impl_->next_id++;
  impl_->faults.emplace_back(id, make_fault(spec, ProxyClock::now()));
  return id;
}

void FaultProxy::remove(int id) {
  std::lock_guard lock(impl_->mu);
  auto& f = impl_->faults;
  f.erase(std::remove_if(f.begin(), f.end(), [id](const auto& p) { return p.first == id; }), f.end());
}

void FaultProxy::heal() {
  std::lock_guard lock(impl_->mu);
  impl_->faults.clear();
}

ProxyStats FaultProxy::stats() const {
  return {impl_->connections, impl_->bytes_up, impl_->bytes_down, impl_->resets, impl_->closes, impl_->refusals};
}

}  // namespace ferry::sim
