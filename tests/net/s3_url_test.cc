// s3://BUCKET/PREFIX URLs, endpoints, and path-style versus virtual-host
// addressing.
#include "net/s3_url.h"

#include "support/test_util.h"

namespace valise::net {
namespace {

// Goal: s3://BUCKET/PREFIX parses into bucket and a prefix without
// leading or trailing '/'; keys go under it.
TEST(S3Url, Parse) {
  S3Url u;
  ASSERT_VALISE_OK(ParseS3Url("s3://bucket", &u));
  EXPECT_EQ(u.bucket, "bucket");
  EXPECT_EQ(u.prefix, "");
  EXPECT_EQ(u.Key("a/b"), "a/b");
  ASSERT_VALISE_OK(ParseS3Url("s3://bucket/", &u));
  EXPECT_EQ(u.prefix, "");
  ASSERT_VALISE_OK(ParseS3Url("s3://my.bucket_1/shipments/2024/", &u));
  EXPECT_EQ(u.bucket, "my.bucket_1");
  EXPECT_EQ(u.prefix, "shipments/2024");
  EXPECT_EQ(u.Key("d/f.bin"), "shipments/2024/d/f.bin");
  EXPECT_EQ(u.ToString(), "s3://my.bucket_1/shipments/2024");
  EXPECT_TRUE(IsS3Url("s3://x"));
  EXPECT_FALSE(IsS3Url("/mnt/s3://x"));
}

// Goal: malformed URLs are refused with a message naming them.
TEST(S3Url, Refused) {
  S3Url u;
  for (const char* bad :
       {"s3://", "s3:///prefix", "http://b/p", "s3://b@d/p", "s3://b/a//c",
        "s3://b/a/./c", "s3://b/../c", "s3://b/a/.."}) {
    Status s = ParseS3Url(bad, &u);
    EXPECT_TRUE(s.IsInvalidArgument()) << bad;
    EXPECT_NE(s.message().find(bad), std::string::npos) << s.ToString();
  }
}

// Goal: endpoints keep scheme and host[:port] (default ports dropped, as
// the Host header carries them); a path or user info is refused.
TEST(S3Endpoint, Parse) {
  S3Endpoint e;
  ASSERT_VALISE_OK(ParseS3Endpoint("http://127.0.0.1:8000", &e));
  EXPECT_EQ(e.scheme, "http");
  EXPECT_EQ(e.authority, "127.0.0.1:8000");
  EXPECT_EQ(e.host, "127.0.0.1");
  ASSERT_VALISE_OK(ParseS3Endpoint("HTTPS://s3.example.com:443/", &e));
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.authority, "s3.example.com");
  ASSERT_VALISE_OK(ParseS3Endpoint("http://[::1]:7480", &e));
  EXPECT_EQ(e.authority, "[::1]:7480");
  EXPECT_EQ(e.host, "[::1]");
  for (const char* bad :
       {"127.0.0.1:8000", "ftp://h", "http://", "http://h/path", "http://u:p@h",
        "http://h:0", "http://h:99999", "http://h:x",
        "http://h:", "http://[::1"}) {
    EXPECT_TRUE(ParseS3Endpoint(bad, &e).IsInvalidArgument()) << bad;
  }
}

// Goal: auto addressing is virtual-host only for AWS endpoints and DNS
// names; path-style for RGW and odd names; explicit styles win.
TEST(S3Endpoint, Addressing) {
  S3Endpoint aws, rgw;
  ASSERT_VALISE_OK(ParseS3Endpoint("https://s3.eu-west-1.amazonaws.com", &aws));
  ASSERT_VALISE_OK(ParseS3Endpoint("http://127.0.0.1:7480", &rgw));
  EXPECT_TRUE(UseVirtualHost(S3Addressing::kAuto, aws, "my-bucket"));
  EXPECT_FALSE(UseVirtualHost(S3Addressing::kAuto, aws, "my.bucket"));
  EXPECT_FALSE(UseVirtualHost(S3Addressing::kAuto, aws, "My_Bucket"));
  EXPECT_FALSE(UseVirtualHost(S3Addressing::kAuto, rgw, "my-bucket"));
  EXPECT_TRUE(UseVirtualHost(S3Addressing::kVirtual, rgw, "my-bucket"));
  EXPECT_FALSE(UseVirtualHost(S3Addressing::kPath, aws, "my-bucket"));
  EXPECT_FALSE(IsDnsCompatibleBucket("ab"));
  EXPECT_FALSE(IsDnsCompatibleBucket("-ab"));
  EXPECT_TRUE(IsDnsCompatibleBucket("a-b-0"));
}

// Goal: the URL, Host and signed path of both styles; the key is encoded
// once (a '%' in a key is %25, '/' kept), the query is the canonical one.
TEST(S3Endpoint, Targets) {
  S3Endpoint e;
  ASSERT_VALISE_OK(ParseS3Endpoint("http://127.0.0.1:7480", &e));
  S3Target t = BuildS3Target(e, false, "b", "dir/a b%.txt",
                             {{"uploadId", "2~x/y"}, {"partNumber", "3"}});
  EXPECT_EQ(t.url,
            "http://127.0.0.1:7480/b/dir/a%20b%25.txt?partNumber=3&uploadId="
            "2~x%2Fy");
  EXPECT_EQ(t.host, "127.0.0.1:7480");
  EXPECT_EQ(t.path, "/b/dir/a b%.txt");
  t = BuildS3Target(e, false, "b", "", {{"list-type", "2"}});
  EXPECT_EQ(t.url, "http://127.0.0.1:7480/b?list-type=2");
  EXPECT_EQ(t.path, "/b");
  ASSERT_VALISE_OK(ParseS3Endpoint("https://s3.amazonaws.com", &e));
  t = BuildS3Target(e, true, "bkt", "k/./x", {});
  EXPECT_EQ(t.url, "https://bkt.s3.amazonaws.com/k/./x");
  EXPECT_EQ(t.host, "bkt.s3.amazonaws.com");
  EXPECT_EQ(t.path, "/k/./x");
  t = BuildS3Target(e, true, "bkt", "", {});
  EXPECT_EQ(t.url, "https://bkt.s3.amazonaws.com/");
}

}  // namespace
}  // namespace valise::net
