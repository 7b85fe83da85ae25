// A small HTTP/1.1 server on 127.0.0.1 for the transport's tests: it
// records each request (and the connection it came on) and answers as the
// test's handler says, or misbehaves on purpose (closes before answering,
// cuts the body, stalls). Keep-alive; a thread per connection.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace valise::test {

class HttpTestServer {
 public:
  struct Request {
    std::string method;
    std::string target;  // path?query as sent
    std::vector<std::pair<std::string, std::string>> headers;  // as sent
    std::string body;
    int connection = 0;  // 1, 2, ... in accept order
    std::string Header(const std::string& lower_name) const;
    bool HasHeader(const std::string& lower_name) const;
  };
  struct Reply {
    enum class Action { kAnswer, kCloseBeforeAnswer, kCutBody, kStall };
    Action action = Action::kAnswer;
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // kCutBody: announce body.size() but send half, then close.
  };
  using Handler = std::function<Reply(const Request&)>;

  explicit HttpTestServer(Handler handler);
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  std::string url() const;  // http://127.0.0.1:PORT
  int port() const { return port_; }
  std::vector<Request> requests() const;
  int connections() const { return connections_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd, int connection);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable stopped_;
  std::vector<Request> requests_;
  std::vector<std::thread> workers_;
  std::vector<int> fds_;
};

// A port nothing listens on (bound, then closed).
int UnusedPort();

}  // namespace valise::test
