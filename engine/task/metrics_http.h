// The metrics endpoint's HTTP (Boost.Beast): a small server that answers GET requests from one
// handler on its own thread, and the GET a client (`ferry status`) makes. Plain HTTP/1.1, one
// request per connection, 5 s to send a request.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace ferry {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
// `path` as requested ("/metrics"), the query cut off.
using HttpHandler = std::function<HttpResponse(const std::string& path)>;

// "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (127.0.0.1: only this machine, unless a host is
// named) to host and port. Throws FerryError(Usage) naming `what` (the flag).
std::pair<std::string, int> parse_listen_address(const std::string& text, const std::string& what);

class MetricsServer {
 public:
  // Listens at once; throws FerryError(Usage) when it cannot (the port taken, a host not here).
  MetricsServer(const std::string& listen, HttpHandler handler);
  ~MetricsServer();
  // "host:port" it listens on (the port the system chose for port 0).
  std::string address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// GETs `url` ("http://HOST:PORT/PATH", the scheme optional). Throws FerryError(Connection) naming the
// URL when nothing answers in `timeout_s` or the answer is not HTTP; any status is returned.
HttpResponse http_get(const std::string& url, double timeout_s);

}  // namespace ferry
