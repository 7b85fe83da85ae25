// The libcurl transport against a local HTTP server (and openssl s_server
// for TLS): bodies from the caller's pieces and into the caller's buffer,
// connection reuse, and each failure mapped to retryable or not, applied
// or not.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "net/http.h"
#include "net/http_test_server.h"
#include "support/test_util.h"

namespace valise::net {
namespace {

using test::HttpTestServer;
using Reply = HttpTestServer::Reply;

std::unique_ptr<HttpTransport> Transport(long stall_timeout_s = 30) {
  HttpOptions o;
  o.connect_timeout_ms = 5000;
  o.stall_timeout_s = stall_timeout_s;
  return NewCurlTransport(o);
}

// Goal: a PUT's body is sent from several pieces exactly, with our Host
// header and without Expect or a Content-Type; the path is sent as is
// ("/./" kept); response headers come back lower-cased; five requests in a
// row use one connection.
TEST(CurlTransport, PutPiecesAndReuseConnection) {
  HttpTestServer server([](const HttpTestServer::Request& r) {
    Reply reply;
    reply.headers = {{"ETag", "\"abc\""}, {"X-Amz-Request-Id", "tx1"}};
    reply.body = r.method == "POST" ? "<ok/>" : "";
    return reply;
  });
  auto t = Transport();
  std::string a(70000, 'a'), b = "middle", c(5, 'c');
  for (int i = 0; i < 5; ++i) {
    HttpRequest req;
    req.method = "PUT";
    req.url = server.url() + "/bkt/dir/./k%20x?partNumber=1";
    req.headers = {{"Host", "example:1"}, {"x-amz-date", "d"}};
    req.body = {
        {a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
    HttpResponse resp;
    bool applied = false;
    ASSERT_VALISE_OK(t->Send(req, &resp, &applied));
    EXPECT_TRUE(applied);
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.Header("etag"), "\"abc\"");
    EXPECT_EQ(resp.Header("x-amz-request-id"), "tx1");
    EXPECT_EQ(resp.bytes_sent, a.size() + b.size() + c.size());
  }
  HttpRequest post;
  post.method = "POST";
  post.url = server.url() + "/bkt/k?uploads=";
  HttpResponse resp;
  bool applied;
  ASSERT_VALISE_OK(t->Send(post, &resp, &applied));
  EXPECT_EQ(resp.body, "<ok/>");

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 6u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/bkt/dir/./k%20x?partNumber=1");
  EXPECT_EQ(reqs[0].body, a + b + c);
  EXPECT_EQ(reqs[0].Header("content-length"), std::to_string(a.size() + 11));
  EXPECT_EQ(reqs[0].Header("host"), "example:1");
  EXPECT_FALSE(reqs[0].HasHeader("expect"));
  EXPECT_FALSE(reqs[5].HasHeader("content-type"));
  EXPECT_EQ(reqs[5].Header("content-length"), "0");
  EXPECT_EQ(server.connections(), 1);
}

// Goal: a 2xx GET's body lands in the caller's buffer; an error's body
// goes to the string; a body longer than the buffer is Corruption.
TEST(CurlTransport, GetIntoSink) {
  HttpTestServer server([](const HttpTestServer::Request& r) {
    Reply reply;
    if (r.target == "/b/missing") {
      reply.status = 404;
      reply.body = "<Error><Code>NoSuchKey</Code></Error>";
    } else if (r.target == "/b/long") {
      reply.body = std::string(100, 'L');
    } else {
      reply.status = 206;
      reply.body = "0123456789";
    }
    return reply;
  });
  auto t = Transport();
  char buf[16] = {};
  HttpRequest req;
  req.method = "GET";
  req.url = server.url() + "/b/k";
  req.sink = buf;
  req.sink_capacity = sizeof(buf);
  HttpResponse resp;
  bool applied;
  ASSERT_VALISE_OK(t->Send(req, &resp, &applied));
  EXPECT_EQ(resp.status, 206);
  EXPECT_EQ(resp.sink_bytes, 10u);
  EXPECT_EQ(std::string(buf, 10), "0123456789");
  EXPECT_TRUE(resp.body.empty());

  req.url = server.url() + "/b/missing";
  ASSERT_VALISE_OK(t->Send(req, &resp, &applied));
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.sink_bytes, 0u);
  EXPECT_EQ(resp.body, "<Error><Code>NoSuchKey</Code></Error>");

  req.url = server.url() + "/b/long";
  Status s = t->Send(req, &resp, &applied);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_FALSE(s.retryable());
}

// Goal: failures: a refused connection (retryable, not applied), a
// connection closed before the answer or in the middle of its body
// (retryable, maybe applied), an answer that stalls (TimedOut, retryable).
TEST(CurlTransport, Failures) {
  auto t = Transport(/*stall_timeout_s=*/1);
  HttpRequest req;
  req.method = "PUT";
  std::string body = "x";
  req.body = {{body.data(), body.size()}};
  HttpResponse resp;
  bool applied = true;
  req.url = "http://127.0.0.1:" + std::to_string(test::UnusedPort()) + "/b/k";
  Status s = t->Send(req, &resp, &applied);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(s.retryable());
  EXPECT_FALSE(applied);

  HttpTestServer server([](const HttpTestServer::Request& r) {
    Reply reply;
    if (r.target == "/close") reply.action = Reply::Action::kCloseBeforeAnswer;
    if (r.target == "/cut") {
      reply.action = Reply::Action::kCutBody;
      reply.body = std::string(1000, 'b');
    }
    if (r.target == "/stall") reply.action = Reply::Action::kStall;
    return reply;
  });
  for (const char* path : {"/close", "/cut"}) {
    req.url = server.url() + path;
    s = t->Send(req, &resp, &applied);
    EXPECT_TRUE(s.IsIOError()) << path << ": " << s.ToString();
    EXPECT_TRUE(s.retryable()) << path;
    EXPECT_TRUE(applied) << path;
  }
  req.url = server.url() + "/stall";
  s = t->Send(req, &resp, &applied);
  EXPECT_TRUE(s.IsTimedOut()) << s.ToString();
  EXPECT_TRUE(s.retryable());
}

// Goal: many threads at once: each request gets its own answer, and
// connections are reused (no more than one per thread).
TEST(CurlTransport, ConcurrentCallersReuseConnections) {
  HttpTestServer server([](const HttpTestServer::Request& r) {
    Reply reply;
    reply.body = r.target;
    return reply;
  });
  auto t = Transport();
  constexpr int kThreads = 4, kEach = 10;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        HttpRequest req;
        req.method = "GET";
        std::string path = "/t" + std::to_string(i) + "/" + std::to_string(j);
        req.url = server.url() + path;
        HttpResponse resp;
        bool applied;
        if (!t->Send(req, &resp, &applied).ok() || resp.body != path) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(server.requests().size(), size_t{kThreads * kEach});
  EXPECT_LE(server.connections(), kThreads);
}

// openssl s_server with a fresh self-signed certificate for 127.0.0.1,
// answering GETs with a status page (-www). Stopped by PID.
class TlsServer {
 public:
  explicit TlsServer(const std::string& dir) {
    cert_ = dir + "/cert.pem";
    std::string key = dir + "/key.pem";
    std::string gen =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 1 -subj /CN=127.0.0.1 -addext "
        "subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert_ + " 2>/dev/null";
    ok_ = system(gen.c_str()) == 0;
    if (!ok_) return;
    port_ = test::UnusedPort();
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      int devnull = open("/dev/null", O_WRONLY);  // its TLS alerts
      dup2(devnull, 2);
      std::string accept = "127.0.0.1:" + std::to_string(port_);
      execlp("openssl", "openssl", "s_server", "-accept", accept.c_str(),
             "-cert", cert_.c_str(), "-key", key.c_str(), "-www", nullptr);
      _exit(127);
    }
    close(out[1]);
    // Ready once it says ACCEPT.
    FILE* f = fdopen(out[0], "r");
    char line[256];
    ok_ = false;
    while (fgets(line, sizeof(line), f) != nullptr) {
      if (std::string(line).find("ACCEPT") != std::string::npos) {
        ok_ = true;
        break;
      }
    }
    out_ = f;
  }
  ~TlsServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) fclose(out_);
  }
  bool ok() const { return ok_; }
  std::string url() const {
    return "https://127.0.0.1:" + std::to_string(port_) + "/";
  }
  const std::string& cert() const { return cert_; }

 private:
  bool ok_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string cert_;
};

// Goal: HTTPS checks the certificate: a self-signed one is refused (not
// retryable, said to be TLS) unless it is in the CA bundle given; a CA
// bundle that cannot be read is an error too.
TEST(CurlTransport, TlsCertificateChecks) {
  test::TempDir dir;
  TlsServer server(dir.path());
  ASSERT_TRUE(server.ok()) << "openssl s_server did not start";
  HttpRequest req;
  req.method = "GET";
  req.url = server.url();
  HttpResponse resp;
  bool applied;
  Status s = Transport()->Send(req, &resp, &applied);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_FALSE(s.retryable());
  EXPECT_NE(s.message().find("TLS"), std::string::npos) << s.ToString();

  HttpOptions with_ca;
  with_ca.ca_bundle = server.cert();
  ASSERT_VALISE_OK(NewCurlTransport(with_ca)->Send(req, &resp, &applied));
  EXPECT_EQ(resp.status, 200);

  HttpOptions missing_ca;
  missing_ca.ca_bundle = dir.path() + "/no-such-ca.pem";
  s = NewCurlTransport(missing_ca)->Send(req, &resp, &applied);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.retryable());
}

}  // namespace
}  // namespace valise::net
