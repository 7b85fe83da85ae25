#include "net/http_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace valise::test {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string HttpTestServer::Request::Header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (Lower(n) == name) return v;
  }
  return std::string();
}

bool HttpTestServer::Request::HasHeader(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (Lower(n) == name) return true;
  }
  return false;
}

HttpTestServer::HttpTestServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(listen_fd_, 64);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

HttpTestServer::~HttpTestServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stopped_.notify_all();
  acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& t : workers_) t.join();
  for (int fd : fds_) close(fd);
  close(listen_fd_);
}

std::string HttpTestServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::vector<HttpTestServer::Request> HttpTestServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void HttpTestServer::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int connection = ++connections_;
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(fd);
    workers_.emplace_back([this, fd, connection] { Serve(fd, connection); });
  }
}

void HttpTestServer::Serve(int fd, int connection) {
  std::string in;
  char buf[65536];
  for (;;) {
    // The header block.
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    Request req;
    req.connection = connection;
    std::string head = in.substr(0, end);
    in.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value[0] == ' ') value.erase(0, 1);
      req.headers.emplace_back(line.substr(0, colon), value);
      pos = e + 2;
    }
    size_t length = 0;
    if (req.HasHeader("content-length")) {
      length = std::stoul(req.Header("content-length"));
    }
    while (in.size() < length) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    req.body = in.substr(0, length);
    in.erase(0, length);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }
    Reply reply = handler_(req);
    using Action = Reply::Action;
    if (reply.action == Action::kCloseBeforeAnswer) {
      shutdown(fd, SHUT_RDWR);
      return;
    }
    if (reply.action == Action::kStall) {
      std::unique_lock<std::mutex> lock(mu_);
      stopped_.wait(lock, [this] { return stop_.load(); });
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
    for (const auto& [n, v] : reply.headers) out += n + ": " + v + "\r\n";
    if (req.method != "HEAD" || !reply.body.empty()) {
      out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    }
    out += "\r\n";
    if (reply.action == Action::kCutBody) {
      out += reply.body.substr(0, reply.body.size() / 2);
      WriteAll(fd, out);
      shutdown(fd, SHUT_RDWR);
      return;
    }
    if (req.method != "HEAD") out += reply.body;
    if (!WriteAll(fd, out)) return;
  }
}

int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace valise::test
