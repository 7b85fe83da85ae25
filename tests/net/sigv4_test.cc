// SigV4 against the published vectors: the AWS test suite (the cases S3's
// rules allow, tests/net/sigv4_suite/) and the S3 examples of the AWS
// documentation ("Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk": GET object with a range, PUT
// object, GET bucket lifecycle, list objects).
#include "net/sigv4.h"

#include <dirent.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_util.h"

namespace valise::net {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One case of the suite: its request.txt parsed, its context and expected
// outputs.
struct SuiteCase {
  std::string name;
  std::string method;
  std::string path;
  KeyValues query;
  KeyValues headers;
  std::string body;
  nlohmann::json context;
  std::string creq, sts, signature;
};

// request.txt: "METHOD PATH?QUERY HTTP/1.1", header lines "Name:value"
// (a line starting with a space continues the previous value), a blank
// line, the body.
SuiteCase LoadCase(const std::string& dir, const std::string& name) {
  SuiteCase c;
  c.name = name;
  std::string base = dir + "/" + name + "/";
  c.context = nlohmann::json::parse(ReadText(base + "context.json"));
  c.creq = ReadText(base + "header-canonical-request.txt");
  c.sts = ReadText(base + "header-string-to-sign.txt");
  c.signature = ReadText(base + "header-signature.txt");
  std::string req = ReadText(base + "request.txt");
  size_t body_at = req.find("\n\n");
  if (body_at != std::string::npos) {
    c.body = req.substr(body_at + 2);
    req.resize(body_at);
  }
  std::istringstream lines(req);
  std::string line;
  std::getline(lines, line);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  c.method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t q = target.find('?');
  c.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string qs = target.substr(q + 1);
    size_t start = 0;
    while (start <= qs.size()) {
      size_t amp = qs.find('&', start);
      if (amp == std::string::npos) amp = qs.size();
      std::string pair = qs.substr(start, amp - start);
      size_t eq = pair.find('=');
      std::string n, v;
      EXPECT_TRUE(UriDecode(pair.substr(0, eq), &n));
      if (eq != std::string::npos) {
        EXPECT_TRUE(UriDecode(pair.substr(eq + 1), &v));
      }
      if (!pair.empty()) c.query.emplace_back(n, v);
      start = amp + 1;
    }
  }
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] == ' ') {
      c.headers.back().second += line;  // folded: runs of spaces collapse
      continue;
    }
    size_t colon = line.find(':');
    c.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return c;
}

std::vector<std::string> SuiteCases(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n.find('.') == std::string::npos) {
      names.push_back(n);
    }
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Goal: every kept case of the AWS suite gives the published canonical
// request, string to sign and signature (x-amz-date, the session token and,
// when the case signs the body, x-amz-content-sha256 added as the suite's
// signer adds them).
TEST(SigV4Suite, AllCasesMatch) {
  const std::string dir = VALISE_TEST_SIGV4_DIR;
  std::vector<std::string> names = SuiteCases(dir);
  ASSERT_EQ(names.size(), 30u) << dir;
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    SuiteCase c = LoadCase(dir, name);
    std::string amz_date = "20150830T123600Z";
    ASSERT_EQ(c.context["timestamp"], "2015-08-30T12:36:00Z");
    std::string payload = Sha256Hex(c.body);
    c.headers.emplace_back("X-Amz-Date", amz_date);
    const auto& creds = c.context["credentials"];
    if (creds.contains("token")) {
      c.headers.emplace_back("X-Amz-Security-Token",
                             creds["token"].get<std::string>());
    }
    if (c.context["sign_body"].get<bool>()) {
      c.headers.emplace_back("X-Amz-Content-Sha256", payload);
    }
    SigV4Request req{c.method, c.path, c.query, c.headers, payload};
    std::string region = c.context["region"];
    std::string service = c.context["service"];
    SigV4Scope scope{amz_date, region, service};
    std::string signed_headers;
    std::string creq = CanonicalRequest(req, &signed_headers);
    EXPECT_EQ(creq, c.creq);
    std::string sts = StringToSign(scope, creq);
    EXPECT_EQ(sts, c.sts);
    std::string secret = creds["secret_access_key"];
    EXPECT_EQ(Signature(secret, scope, sts), c.signature);
    EXPECT_EQ(Authorization(req, scope, "AKIDEXAMPLE", secret),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/" + region +
                  "/" + service + "/aws4_request, SignedHeaders=" +
                  signed_headers + ", Signature=" + c.signature);
  }
}

constexpr std::string_view kDocKey = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kDocSecret =
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SigV4Scope kDocScope{"20130524T000000Z", "us-east-1", "s3"};

std::string SignatureOf(const std::string& authorization) {
  return authorization.substr(authorization.rfind('=') + 1);
}

// Goal: the S3 "GET Object" example (a signed Range header) signs as
// published, through each step.
TEST(SigV4S3Examples, GetObjectWithRange) {
  SigV4Request req{"GET",
                   "/test.txt",
                   {},
                   {{"Host", "examplebucket.s3.amazonaws.com"},
                    {"Range", "bytes=0-9"},
                    {"x-amz-content-sha256", std::string(kEmptySha256)},
                    {"x-amz-date", "20130524T000000Z"}},
                   kEmptySha256};
  std::string signed_headers;
  EXPECT_EQ(CanonicalRequest(req, &signed_headers),
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\nx-amz-content-sha256:" +
                std::string(kEmptySha256) +
                "\nx-amz-date:20130524T000000Z\n\n"
                "host;range;x-amz-content-sha256;x-amz-date\n" +
                std::string(kEmptySha256));
  EXPECT_EQ(StringToSign(kDocScope, CanonicalRequest(req, &signed_headers)),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/"
            "aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(
      Authorization(req, kDocScope, kDocKey, kDocSecret),
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/"
      "s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;"
      "x-amz-date, Signature="
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// Goal: the S3 "PUT Object" example: a key with '$' (encoded once, %24),
// the payload's SHA-256 given by the caller, a Date header signed.
TEST(SigV4S3Examples, PutObject) {
  std::string payload = Sha256Hex("Welcome to Amazon S3.");
  ASSERT_EQ(payload,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SigV4Request req{"PUT",
                   "/test$file.text",
                   {},
                   {{"Host", "examplebucket.s3.amazonaws.com"},
                    {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                    {"x-amz-date", "20130524T000000Z"},
                    {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                    {"x-amz-content-sha256", payload}},
                   payload};
  std::string signed_headers;
  std::string creq = CanonicalRequest(req, &signed_headers);
  EXPECT_EQ(creq.substr(0, creq.find('\n', 4)), "PUT\n/test%24file.text");
  EXPECT_EQ(signed_headers,
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(StringToSign(kDocScope, creq),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/"
            "aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(SignatureOf(Authorization(req, kDocScope, kDocKey, kDocSecret)),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

// Goal: "GET Bucket Lifecycle": a sub-resource without value signs as
// "lifecycle=".
TEST(SigV4S3Examples, GetBucketLifecycle) {
  SigV4Request req{"GET",
                   "/",
                   {{"lifecycle", ""}},
                   {{"Host", "examplebucket.s3.amazonaws.com"},
                    {"x-amz-date", "20130524T000000Z"},
                    {"x-amz-content-sha256", std::string(kEmptySha256)}},
                   kEmptySha256};
  EXPECT_EQ(SignatureOf(Authorization(req, kDocScope, kDocKey, kDocSecret)),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

// Goal: "Get Bucket (List Objects)": query parameters given out of order
// are signed sorted.
TEST(SigV4S3Examples, ListObjects) {
  SigV4Request req{"GET",
                   "/",
                   {{"prefix", "J"}, {"max-keys", "2"}},
                   {{"Host", "examplebucket.s3.amazonaws.com"},
                    {"x-amz-date", "20130524T000000Z"},
                    {"x-amz-content-sha256", std::string(kEmptySha256)}},
                   kEmptySha256};
  EXPECT_EQ(CanonicalQuery(req.query), "max-keys=2&prefix=J");
  EXPECT_EQ(SignatureOf(Authorization(req, kDocScope, kDocKey, kDocSecret)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

// Goal: S3's URI encoding: unreserved bytes kept, '/' kept in paths only,
// everything else (space, '+', '%', UTF-8) encoded once with upper-case
// hex; a key that looks encoded is encoded again, never passed through.
TEST(SigV4, UriEncoding) {
  EXPECT_EQ(UriEncode("A-z_0.9~", false), "A-z_0.9~");
  EXPECT_EQ(UriEncode("a b+c", false), "a%20b%2Bc");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(UriEncode("/a/b c/", true), "/a/b%20c/");
  EXPECT_EQ(UriEncode("100%", true), "100%25");
  EXPECT_EQ(UriEncode("a%20b", true), "a%2520b");
  EXPECT_EQ(UriEncode("ключ", true), "%D0%BA%D0%BB%D1%8E%D1%87");
  EXPECT_EQ(UriEncode("!'()*=&?#", true), "%21%27%28%29%2A%3D%26%3F%23");
  std::string out;
  EXPECT_TRUE(UriDecode("a%20b%2Fc+d", &out));
  EXPECT_EQ(out, "a b/c+d");
  EXPECT_FALSE(UriDecode("a%2", &out));
  EXPECT_FALSE(UriDecode("a%zz", &out));
  EXPECT_FALSE(UriDecode("%", &out));
  EXPECT_EQ(CanonicalQuery({{"uploadId", "a/b+c=="}, {"partNumber", "2"}}),
            "partNumber=2&uploadId=a%2Fb%2Bc%3D%3D");
  EXPECT_EQ(CanonicalQuery({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(CanonicalQuery({}), "");
}

// Goal: x-amz-date and the helpers' encodings.
TEST(SigV4, DatesAndEncodings) {
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
  EXPECT_EQ(AmzDate(1369353600), "20130524T000000Z");
  EXPECT_EQ(AmzDate(951782400), "20000229T000000Z");
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Base64Encode("", 0), "");
  EXPECT_EQ(Base64Encode("ab", 2), "YWI=");
  std::string out;
  EXPECT_TRUE(Base64Decode("YWI=", &out));
  EXPECT_EQ(out, "ab");
  EXPECT_TRUE(Base64Decode("YWJj", &out));
  EXPECT_EQ(out, "abc");
  EXPECT_FALSE(Base64Decode("YWI", &out));
  EXPECT_FALSE(Base64Decode("Y!I=", &out));
}

}  // namespace
}  // namespace valise::net
