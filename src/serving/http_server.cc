#include "src/serving/http_server.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "src/serving/json_tensor.h"

namespace recship {
namespace {

constexpr char kJson[] = "application/json";

void SetTimeouts(httplib::Server& server, absl::Duration timeout) {
  const int64_t micros = absl::ToInt64Microseconds(timeout);
  server.set_read_timeout(micros / 1'000'000, micros % 1'000'000);
  server.set_write_timeout(micros / 1'000'000, micros % 1'000'000);
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              Handler handler) {
  std::unique_ptr<HttpServer> http(new HttpServer);
  http->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *http->server_;
  const int threads = std::max(1, options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(options.max_body_bytes);
  SetTimeouts(server, options.timeout);
  auto serve = [handler](const httplib::Request& request, httplib::Response& response,
                         absl::string_view body) {
    // The path as sent (percent-encoded, without the query): the handler
    // decodes what it matched, as TensorFlow Serving does ("ctr%3Aps_0").
    const std::string& target = request.target;
    HttpReply reply = handler(request.method, target.substr(0, target.find('?')), body);
    response.status = reply.code;
    response.set_content(std::move(reply.body), reply.content_type);
  };
  // Bodies are read through a content reader: the library's own read caps a
  // body sent as a form (curl -d, urllib's default Content-Type) at 8 KiB
  // and parses it as one.
  auto with_body = [serve](const httplib::Request& request, httplib::Response& response,
                           const httplib::ContentReader& reader) {
    std::string body;
    const bool read = reader([&body](const char* data, size_t size) {
      body.append(data, size);
      return true;
    });
    if (!read) {
      // The library set the code (413 over the limit); the error handler
      // writes the body.
      if (response.status < 400) response.status = 400;
      return;
    }
    serve(request, response, body);
  };
  server.Get(".*", [serve](const httplib::Request& request, httplib::Response& response) {
    serve(request, response, "");
  });
  server.Post(".*", with_body);
  server.Put(".*", with_body);
  server.Delete(".*", with_body);
  server.Patch(".*", with_body);
  server.Options(".*", [serve](const httplib::Request& request, httplib::Response& response) {
    serve(request, response, "");
  });
  // What the library answers itself (a body too large, a request it cannot
  // parse) gets a JSON error too.
  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (!response.body.empty()) return;
    std::string message = response.status == 413
                              ? "the request body is larger than the server takes "
                                "(--max_request_mib)"
                              : absl::StrCat("HTTP ", response.status);
    response.set_content(ErrorJson(message), kJson);
  });
  http->port_ = options.port == 0
                    ? server.bind_to_any_port(options.host)
                    : (server.bind_to_port(options.host, options.port) ? options.port : -1);
  if (http->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.host, ":", options.port,
                                               " for REST (is the port in use?)"));
  }
  http->listener_ = std::thread([s = &server] { s->listen_after_bind(); });
  return http;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (server_ != nullptr) server_->stop();
  if (listener_.joinable()) listener_.join();
}

}  // namespace recship
