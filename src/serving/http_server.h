// An HTTP/1.1 server on one port (cpp-httplib from Debian), handing every
// request to one function. A body over max_body_bytes is refused with 413
// before it is read whole; what the library refuses itself (413, 400)
// still gets a JSON {"error": ...} body.
#ifndef RECSHIP_SRC_SERVING_HTTP_SERVER_H_
#define RECSHIP_SRC_SERVING_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace recship {

struct HttpReply {
  int code = 200;
  std::string body;
  std::string content_type = "application/json";
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port.
  int threads = 4;
  size_t max_body_bytes = 256 << 20;
  // Reading a request and writing its answer each get this long.
  absl::Duration timeout = absl::Seconds(30);
};

class HttpServer {
 public:
  // `path` is as the client sent it: percent-encoded, without the query.
  using Handler = std::function<HttpReply(absl::string_view method, absl::string_view path,
                                          absl::string_view body)>;

  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           Handler handler);
  ~HttpServer();

  int port() const { return port_; }
  // Stops accepting; requests being answered finish.
  void Stop();

 private:
  HttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  int port_ = 0;
};

}  // namespace recship

#endif  // RECSHIP_SRC_SERVING_HTTP_SERVER_H_
