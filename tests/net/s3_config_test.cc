// Where the S3 configuration comes from: the precedence of flags,
// environment and the shared AWS files, as the AWS CLI has it.
#include "support/test_util.h"
#include "valise/s3.h"

namespace valise {
namespace {

constexpr char kCredentials[] = R"(# comment
[default]
aws_access_key_id = AKIDFILEDEFAULT
aws_secret_access_key = file/default/secret

[ceph]
aws_access_key_id=AKIDFILECEPH
aws_secret_access_key=file/ceph/secret
aws_session_token = file-ceph-token
)";

constexpr char kConfig[] = R"([default]
region = eu-west-3

[profile ceph]
region = zg1
endpoint_url = http://10.0.0.1:7480
s3 =
  addressing_style = virtual
  endpoint_url = http://10.0.0.2:7480
ca_bundle = ~/ca.pem

[profile confonly]
aws_access_key_id = AKIDCONFONLY
aws_secret_access_key = conf/only/secret
s3 =
    addressing_style = path

[profile role]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default

[profile bad]
aws_access_key_id = AKIDBAD
aws_secret_access_key = bad/secret
s3 =
  addressing_style = sideways
)";

class S3ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write(".aws/credentials", kCredentials);
    dir_.Write(".aws/config", kConfig);
    env_.home = dir_.path();
  }
  S3Config Resolve(const S3Flags& flags = S3Flags()) {
    S3Config c;
    Status s = ResolveS3Config(flags, env_, &c);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }
  test::TempDir dir_;
  S3Environment env_;
};

// Goal: with nothing set but ~/.aws, the default profile's keys, its
// region and AWS's endpoint for it; auto addressing.
TEST_F(S3ConfigTest, DefaultProfileFromFiles) {
  S3Config c = Resolve();
  EXPECT_EQ(c.credentials.access_key_id, "AKIDFILEDEFAULT");
  EXPECT_EQ(c.credentials.secret_access_key, "file/default/secret");
  EXPECT_EQ(c.credentials.session_token, "");
  EXPECT_EQ(c.credentials.source, dir_.path() + "/.aws/credentials [default]");
  EXPECT_EQ(c.region, "eu-west-3");
  EXPECT_EQ(c.endpoint, "https://s3.eu-west-3.amazonaws.com");
  EXPECT_EQ(c.endpoint_source, "default");
  EXPECT_EQ(c.addressing, S3Addressing::kAuto);
  EXPECT_EQ(c.ca_bundle, "");
}

// Goal: environment keys beat the files; AWS_SESSION_TOKEN comes with
// them; AWS_REGION beats AWS_DEFAULT_REGION beats the file.
TEST_F(S3ConfigTest, EnvironmentBeatsFiles) {
  env_.vars = {{"AWS_ACCESS_KEY_ID", "AKIDENV"},
               {"AWS_SECRET_ACCESS_KEY", "env/secret"},
               {"AWS_SESSION_TOKEN", "env-token"},
               {"AWS_DEFAULT_REGION", "default-region"}};
  S3Config c = Resolve();
  EXPECT_EQ(c.credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(c.credentials.session_token, "env-token");
  EXPECT_EQ(c.credentials.source, "environment (AWS_ACCESS_KEY_ID)");
  EXPECT_EQ(c.region, "default-region");
  env_.vars["AWS_REGION"] = "region";
  EXPECT_EQ(Resolve().region, "region");
  S3Flags flags;
  flags.region = "flag-region";
  EXPECT_EQ(Resolve(flags).region, "flag-region");
}

// Goal: AWS_PROFILE picks the section: the credentials file's keys and
// token, the config's region, its s3 sub-section's endpoint_url (over the
// profile's own) and addressing_style, its ca_bundle with ~ expanded.
TEST_F(S3ConfigTest, ProfileFromEnvironment) {
  env_.vars = {{"AWS_PROFILE", "ceph"}};
  S3Config c = Resolve();
  EXPECT_EQ(c.credentials.access_key_id, "AKIDFILECEPH");
  EXPECT_EQ(c.credentials.session_token, "file-ceph-token");
  EXPECT_EQ(c.region, "zg1");
  EXPECT_EQ(c.endpoint, "http://10.0.0.2:7480");
  EXPECT_EQ(c.addressing, S3Addressing::kVirtual);
  EXPECT_EQ(c.ca_bundle, dir_.path() + "/ca.pem");
}

// Goal: endpoint precedence: --endpoint, AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL, the files; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS skips
// the variables and files but not the flag.
TEST_F(S3ConfigTest, EndpointPrecedence) {
  env_.vars = {{"AWS_PROFILE", "ceph"},
               {"AWS_ENDPOINT_URL", "http://global:1"}};
  EXPECT_EQ(Resolve().endpoint, "http://global:1");
  env_.vars["AWS_ENDPOINT_URL_S3"] = "http://s3only:2";
  S3Config c = Resolve();
  EXPECT_EQ(c.endpoint, "http://s3only:2");
  EXPECT_EQ(c.endpoint_source, "AWS_ENDPOINT_URL_S3");
  S3Flags flags;
  flags.endpoint = "http://flag:3";
  EXPECT_EQ(Resolve(flags).endpoint, "http://flag:3");
  env_.vars["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
  EXPECT_EQ(Resolve().endpoint, "https://s3.zg1.amazonaws.com");
  EXPECT_EQ(Resolve(flags).endpoint, "http://flag:3");
}

// Goal: a profile named on the command line beats environment keys (as
// `aws --profile` does); AWS_PROFILE does not.
TEST_F(S3ConfigTest, ExplicitProfileBeatsEnvironmentKeys) {
  env_.vars = {{"AWS_ACCESS_KEY_ID", "AKIDENV"},
               {"AWS_SECRET_ACCESS_KEY", "env/secret"},
               {"AWS_PROFILE", "ceph"}};
  EXPECT_EQ(Resolve().credentials.access_key_id, "AKIDENV");
  S3Flags flags;
  flags.profile = "ceph";
  EXPECT_EQ(Resolve(flags).credentials.access_key_id, "AKIDFILECEPH");
}

// Goal: keys in the config file serve when the credentials file has
// none; path addressing from its s3 sub-section.
TEST_F(S3ConfigTest, KeysInConfigFile) {
  env_.vars = {{"AWS_PROFILE", "confonly"}};
  S3Config c = Resolve();
  EXPECT_EQ(c.credentials.access_key_id, "AKIDCONFONLY");
  EXPECT_EQ(c.credentials.source,
            dir_.path() + "/.aws/config [profile confonly]");
  EXPECT_EQ(c.addressing, S3Addressing::kPath);
  EXPECT_EQ(c.region, "us-east-1");  // the profile has none
}

// Goal: AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move the files.
TEST_F(S3ConfigTest, FileLocationsFromEnvironment) {
  dir_.Write("elsewhere/creds",
             "[default]\naws_access_key_id = AKIDMOVED\n"
             "aws_secret_access_key = moved/secret\n");
  dir_.Write("elsewhere/conf", "[default]\nregion = moved-region\n");
  env_.vars = {
      {"AWS_SHARED_CREDENTIALS_FILE", dir_.path() + "/elsewhere/creds"},
      {"AWS_CONFIG_FILE", "~/elsewhere/conf"}};
  S3Config c = Resolve();
  EXPECT_EQ(c.credentials.access_key_id, "AKIDMOVED");
  EXPECT_EQ(c.region, "moved-region");
}

// Goal: --ca-bundle beats AWS_CA_BUNDLE beats the profile's ca_bundle.
TEST_F(S3ConfigTest, CaBundlePrecedence) {
  env_.vars = {{"AWS_PROFILE", "ceph"}, {"AWS_CA_BUNDLE", "/env/ca.pem"}};
  EXPECT_EQ(Resolve().ca_bundle, "/env/ca.pem");
  S3Flags flags;
  flags.ca_bundle = "/flag/ca.pem";
  EXPECT_EQ(Resolve(flags).ca_bundle, "/flag/ca.pem");
}

// Goal: attempts per request: 10 by default; AWS_MAX_ATTEMPTS beats the
// profile's max_attempts; a value that is not 1-100 is refused, named.
TEST_F(S3ConfigTest, MaxAttempts) {
  EXPECT_EQ(Resolve().max_attempts, 10);
  dir_.Write(".aws/config", std::string(kConfig) +
                                "[profile tries]\nmax_attempts = 4\n"
                                "aws_access_key_id = AKIDTRIES\n"
                                "aws_secret_access_key = tries/secret\n");
  env_.vars = {{"AWS_PROFILE", "tries"}};
  EXPECT_EQ(Resolve().max_attempts, 4);
  env_.vars["AWS_MAX_ATTEMPTS"] = "1";
  EXPECT_EQ(Resolve().max_attempts, 1);
  for (const char* bad : {"0", "x", "3x", "101", "-2"}) {
    env_.vars["AWS_MAX_ATTEMPTS"] = bad;
    S3Config c;
    Status s = ResolveS3Config(S3Flags(), env_, &c);
    EXPECT_TRUE(s.IsInvalidArgument()) << bad;
    EXPECT_NE(s.message().find("AWS_MAX_ATTEMPTS"), std::string::npos);
  }
}

// Goal: the errors: no keys anywhere (the message says where it looked
// and carries no value), half the environment keys, an unknown profile, a
// role profile (not supported), a bad addressing style, a bad endpoint.
// No message holds a secret.
TEST_F(S3ConfigTest, Errors) {
  S3Config c;
  S3Environment empty;
  empty.home = dir_.path() + "/nowhere";
  Status s = ResolveS3Config(S3Flags(), empty, &c);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(s.message().find("/nowhere/.aws/credentials"), std::string::npos);

  empty.vars = {{"AWS_SECRET_ACCESS_KEY", "half/secret"}};
  s = ResolveS3Config(S3Flags(), empty, &c);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message().find("half/secret"), std::string::npos);
  EXPECT_NE(s.message().find("without AWS_ACCESS_KEY_ID"), std::string::npos);

  env_.vars = {{"AWS_PROFILE", "nosuch"}};
  s = ResolveS3Config(S3Flags(), env_, &c);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("profile nosuch"), std::string::npos);

  env_.vars = {{"AWS_PROFILE", "role"}};
  s = ResolveS3Config(S3Flags(), env_, &c);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  EXPECT_NE(s.message().find("role_arn"), std::string::npos);

  env_.vars = {{"AWS_PROFILE", "bad"}};
  s = ResolveS3Config(S3Flags(), env_, &c);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("addressing_style"), std::string::npos);
  EXPECT_EQ(s.message().find("bad/secret"), std::string::npos);

  env_.vars = {{"AWS_ENDPOINT_URL", "127.0.0.1:7480"}};
  s = ResolveS3Config(S3Flags(), env_, &c);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("AWS_ENDPOINT_URL"), std::string::npos);
  for (const char* secret : {"file/default/secret", "file/ceph/secret"}) {
    EXPECT_EQ(s.message().find(secret), std::string::npos);
  }
}

}  // namespace
}  // namespace valise
