#include "task/metrics_http.h"

#include "core/error.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace ferry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::pair<std::string, int> parse_listen_address(const std::string& text, const std::string& what) {
  std::string host = "127.0.0.1", port = text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string::npos)
      throw FerryError(ExitCode::Usage, fmt::format("{} '{}': expected [ADDRESS]:PORT", what, text));
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  char* end = nullptr;
  long n = port.empty() ? -1 : std::strtol(port.c_str(), &end, 10);
  if (n < 0 || n > 65535 || (end && *end))
    throw FerryError(ExitCode::Usage, fmt::format("{} '{}': expected HOST:PORT or PORT (a port 0-65535)", what, text));
  return {host, static_cast<int>(n)};
}

namespace {

// One connection: read a request (5 s), answer it, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<HttpHandler> handler)
      : stream_(std::move(socket)), handler_(std::move(handler)) {}
  void start() {
    stream_.expires_after(std::chrono::seconds(5));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec) return;
    response_.version(request_.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "ferry");
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      response_.result(http::status::method_not_allowed);
      response_.set(http::field::allow, "GET, HEAD");
      response_.set(http::field::content_type, "text/plain; charset=utf-8");
      response_.body() = "only GET\n";
    } else {
      std::string path(request_.target());
      if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
      HttpResponse r;
      try {
        r = (*handler_)(path);
      } catch (const std::exception& e) {
        r = HttpResponse{500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
      }
      response_.result(static_cast<unsigned>(r.status));
      response_.set(http::field::content_type, r.content_type);
      response_.body() = request_.method() == http::verb::head ? std::string() : std::move(r.body);
    }
    response_.prepare_payload();
    stream_.expires_after(std::chrono::seconds(5));
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::shared_ptr<HttpHandler> handler_;
};

}  // namespace

struct MetricsServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::shared_ptr<HttpHandler> handler;
  std::string address;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), handler)->start();
      accept();
    });
  }
};

MetricsServer::MetricsServer(const std::string& listen, HttpHandler handler) : impl_(std::make_unique<Impl>()) {
  auto [host, port] = parse_listen_address(listen, "--metrics-listen");
  impl_->handler = std::make_shared<HttpHandler>(std::move(handler));
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {  // a name: the first address it resolves to
    tcp::resolver resolver(impl_->io);
    auto found = resolver.resolve(host, std::to_string(port), ec);
    if (ec || found.empty())
      throw FerryError(ExitCode::Usage,
                       fmt::format("--metrics-listen {}: cannot resolve '{}': {}", listen, host, ec.message()));
    address = found.begin()->endpoint().address();
  }
  tcp::endpoint at(address, static_cast<unsigned short>(port));
  auto& a = impl_->acceptor;
  if (!a.open(at.protocol(), ec) && !a.set_option(asio::socket_base::reuse_address(true), ec) && !a.bind(at, ec) &&
      !a.listen(asio::socket_base::max_listen_connections, ec)) {
    auto bound = a.local_endpoint();
    impl_->address = bound.address().is_v6() ? fmt::format("[{}]:{}", bound.address().to_string(), bound.port())
                                             : fmt::format("{}:{}", bound.address().to_string(), bound.port());
  } else {
    throw FerryError(ExitCode::Usage,
                     fmt::format("--metrics-listen {}: cannot listen on {}:{}: {}", listen, host, port, ec.message()));
  }
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

MetricsServer::~MetricsServer() {
  impl_->io.stop();
  impl_->thread.join();
}

std::string MetricsServer::address() const { return impl_->address; }

HttpResponse http_get(const std::string& url, double timeout_s) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0)
    rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos)
    throw FerryError(ExitCode::Usage, fmt::format("'{}': ferry's metrics endpoint speaks plain http://", url));
  std::string path = "/";
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    path = rest.substr(slash);
    rest.resize(slash);
  }
  auto [host, port] = parse_listen_address(rest, "URL");

  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::request<http::empty_body> request{http::verb::get, path, 11};
  request.set(http::field::host, rest);
  request.set(http::field::user_agent, "ferry");
  http::response<http::string_body> response;
  beast::flat_buffer buffer;
  beast::error_code failure;
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(timeout_s));
  resolver.async_resolve(host, std::to_string(port), [&](beast::error_code ec, tcp::resolver::results_type found) {
    if (ec) {
      failure = ec;
      return;
    }
    stream.expires_after(timeout);
    stream.async_connect(found, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) {
        failure = ec;
        return;
      }
      http::async_write(stream, request, [&](beast::error_code ec, size_t) {
        if (ec) {
          failure = ec;
          return;
        }
        http::async_read(stream, buffer, response, [&](beast::error_code ec, size_t) { failure = ec; });
      });
    });
  });
  io.run();
  if (failure)
    throw FerryError(ExitCode::Connection,
                     fmt::format("cannot read {}: {}", url,
                                 failure == beast::error::timeout ? "no answer in time" : failure.message()));
  HttpResponse r;
  r.status = static_cast<int>(response.result_int());
  r.content_type = std::string(response[http::field::content_type]);
  r.body = std::move(response.body());
  return r;
}

}  // namespace ferry
