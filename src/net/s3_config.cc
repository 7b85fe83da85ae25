// S3 configuration the way users already set it for the AWS CLI, rclone
// and s3cmd: environment variables first, then the shared files
// (~/.aws/credentials, ~/.aws/config), a profile choosing the section.
// The order of each setting is in s3.h (ResolveS3Config); it follows the
// AWS CLI v2 and botocore:
//   - a profile named on the command line beats AWS_ACCESS_KEY_ID (botocore
//     drops its environment provider when a profile is given explicitly);
//     AWS_PROFILE does not;
//   - the credentials file wins over the config file for the same profile;
//   - the config file's sections are "[default]" and "[profile NAME]", the
//     credentials file's "[NAME]";
//   - a key with an empty value followed by indented "key = value" lines is
//     a sub-section ("s3 =" then "  addressing_style = path").
// Values are never copied into messages: a message names the variable,
// file and profile.
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "net/s3_url.h"
#include "valise/s3.h"

extern char** environ;

namespace valise {
namespace {

// One INI file: section -> key -> value; a sub-section's keys are stored as
// "parent.key" ("s3.addressing_style").
using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void ParseIni(const std::string& text, IniFile* out) {
  std::istringstream in(text);
  std::string line;
  IniSection* section = nullptr;
  std::string parent;  // the key whose sub-section is being read
  while (std::getline(in, line)) {
    bool indented = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    std::string_view l = TrimView(line);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.front() == '[' && l.back() == ']') {
      section = &(*out)[std::string(TrimView(l.substr(1, l.size() - 2)))];
      parent.clear();
      continue;
    }
    size_t eq = l.find_first_of("=:");
    if (section == nullptr || eq == std::string_view::npos) continue;
    std::string key = Lower(TrimView(l.substr(0, eq)));
    std::string value(TrimView(l.substr(eq + 1)));
    if (indented && !parent.empty()) {
      (*section)[parent + "." + key] = value;
      continue;
    }
    parent = value.empty() ? key : std::string();
    (*section)[key] = value;
  }
}

// Reads `path` into `out`; a missing file is an empty one.
Status ReadIni(const std::string& path, IniFile* out) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
    return Status::PosixError("s3 configuration: " + path, errno);
  }
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  bool failed = ferror(f) != 0;
  fclose(f);
  if (failed) return Status::IOError("s3 configuration: " + path, "read");
  ParseIni(text, out);
  return Status::OK();
}

std::string ExpandHome(const std::string& path, const std::string& home) {
  if (path == "~") return home;
  if (path.rfind("~/", 0) == 0) return home + path.substr(1);
  return path;
}

std::string Lookup(const IniSection* s, const std::string& key) {
  if (s == nullptr) return std::string();
  auto it = s->find(key);
  return it == s->end() ? std::string() : it->second;
}

// The config file's section for `profile`.
const IniSection* ConfigSection(const IniFile& config,
                                const std::string& profile) {
  auto it = config.find("profile " + profile);
  if (it != config.end()) return &it->second;
  if (profile == "default") {
    it = config.find("default");
    if (it != config.end()) return &it->second;
  }
  return nullptr;
}

const IniSection* CredentialsSection(const IniFile& creds,
                                     const std::string& profile) {
  auto it = creds.find(profile);
  return it == creds.end() ? nullptr : &it->second;
}

// Credentials from a file section, if it has both keys.
bool FromSection(const IniSection* s, const std::string& source,
                 S3Credentials* out) {
  std::string ak = Lookup(s, "aws_access_key_id");
  std::string sk = Lookup(s, "aws_secret_access_key");
  if (ak.empty() || sk.empty()) return false;
  out->access_key_id = ak;
  out->secret_access_key = sk;
  out->session_token = Lookup(s, "aws_session_token");
  if (out->session_token.empty()) {
    out->session_token = Lookup(s, "aws_security_token");  // older name
  }
  out->source = source;
  return true;
}

Status ResolveCredentials(const S3Flags& flags, const S3Environment& env,
                          const std::string& profile,
                          const std::string& creds_path,
                          const IniSection* creds_section,
                          const std::string& config_path,
                          const IniSection* config_section,
                          S3Credentials* out) {
  const bool explicit_profile = !flags.profile.empty();
  std::string env_ak = env.Get("AWS_ACCESS_KEY_ID");
  std::string env_sk = env.Get("AWS_SECRET_ACCESS_KEY");
  if (!explicit_profile && !env_ak.empty() && !env_sk.empty()) {
    out->access_key_id = env_ak;
    out->secret_access_key = env_sk;
    out->session_token = env.Get("AWS_SESSION_TOKEN");
    out->source = "environment (AWS_ACCESS_KEY_ID)";
    return Status::OK();
  }
  if (FromSection(creds_section, creds_path + " [" + profile + "]", out) ||
      FromSection(config_section, config_path + " [profile " + profile + "]",
                  out)) {
    return Status::OK();
  }
  if (!explicit_profile && env_ak.empty() != env_sk.empty()) {
    return Status::InvalidArgument("s3: credentials",
                                   env_ak.empty()
                                       ? "AWS_SECRET_ACCESS_KEY is set without "
                                         "AWS_ACCESS_KEY_ID"
                                       : "AWS_ACCESS_KEY_ID is set without "
                                         "AWS_SECRET_ACCESS_KEY");
  }
  for (const char* key : {"role_arn", "credential_process", "sso_start_url",
                          "sso_session", "web_identity_token_file"}) {
    if (!Lookup(config_section, key).empty()) {
      return Status::NotSupported("s3: credentials",
                                  "profile " + profile + " in " + config_path +
                                      " gets its keys through " + key +
                                      ", which valise does not do; export "
                                      "AWS_ACCESS_KEY_ID and "
                                      "AWS_SECRET_ACCESS_KEY instead");
    }
  }
  return Status::InvalidArgument(
      "s3: credentials",
      "none found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put "
      "aws_access_key_id and aws_secret_access_key in profile " +
          profile + " of " + creds_path);
}

}  // namespace

S3Environment S3Environment::FromProcess() {
  S3Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.substr(0, 4) != "AWS_") continue;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.vars[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  const char* home = getenv("HOME");
  if (home != nullptr && *home != '\0') {
    env.home = home;
  } else if (struct passwd* pw = getpwuid(getuid()); pw != nullptr) {
    env.home = pw->pw_dir;
  }
  return env;
}

std::string S3Environment::Get(const std::string& name) const {
  auto it = vars.find(name);
  return it == vars.end() ? std::string() : it->second;
}

Status ResolveS3Config(const S3Flags& flags, const S3Environment& env,
                       S3Config* out) {
  S3Config config;
  // The profile, and the two files.
  std::string profile = flags.profile;
  if (profile.empty()) profile = env.Get("AWS_PROFILE");
  if (profile.empty()) profile = env.Get("AWS_DEFAULT_PROFILE");
  if (profile.empty()) profile = "default";
  std::string creds_path = env.Get("AWS_SHARED_CREDENTIALS_FILE");
  if (creds_path.empty()) creds_path = env.home + "/.aws/credentials";
  creds_path = ExpandHome(creds_path, env.home);
  std::string config_path = env.Get("AWS_CONFIG_FILE");
  if (config_path.empty()) config_path = env.home + "/.aws/config";
  config_path = ExpandHome(config_path, env.home);
  IniFile creds_file, config_file;
  VALISE_RETURN_IF_ERROR(ReadIni(creds_path, &creds_file));
  VALISE_RETURN_IF_ERROR(ReadIni(config_path, &config_file));
  const IniSection* cs = CredentialsSection(creds_file, profile);
  const IniSection* ps = ConfigSection(config_file, profile);
  if (profile != "default" && cs == nullptr && ps == nullptr) {
    return Status::InvalidArgument(
        "s3: profile " + profile,
        "not found in " + creds_path + " or " + config_path);
  }

  VALISE_RETURN_IF_ERROR(ResolveCredentials(flags, env, profile, creds_path, cs,
                                            config_path, ps,
                                            &config.credentials));

  // Region.
  const std::pair<std::string, std::string> regions[] = {
      {flags.region, "the command line"},
      {env.Get("AWS_REGION"), "AWS_REGION"},
      {env.Get("AWS_DEFAULT_REGION"), "AWS_DEFAULT_REGION"},
      {Lookup(ps, "region"), config_path + " [profile " + profile + "]"},
  };
  for (const auto& [value, source] : regions) {
    if (!value.empty()) {
      config.region = value;
      config.region_source = source;
      break;
    }
  }

  // Endpoint.
  const bool ignore_configured =
      Lower(env.Get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) == "true" ||
      Lower(Lookup(ps, "ignore_configured_endpoint_urls")) == "true";
  std::vector<std::pair<std::string, std::string>> endpoints = {
      {flags.endpoint, "--endpoint"}};
  if (!ignore_configured) {
    const std::string where = config_path + " [profile " + profile + "]";
    endpoints.insert(
        endpoints.end(),
        {{env.Get("AWS_ENDPOINT_URL_S3"), "AWS_ENDPOINT_URL_S3"},
         {env.Get("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"},
         {Lookup(ps, "s3.endpoint_url"), where + " s3.endpoint_url"},
         {Lookup(ps, "endpoint_url"), where + " endpoint_url"}});
  }
  config.endpoint = "https://s3." + config.region + ".amazonaws.com";
  for (const auto& [value, source] : endpoints) {
    if (!value.empty()) {
      config.endpoint = value;
      config.endpoint_source = source;
      break;
    }
  }
  net::S3Endpoint parsed;
  VALISE_RETURN_IF_ERROR(
      net::ParseS3Endpoint(config.endpoint, &parsed)
          .WithContext("s3: endpoint from " + config.endpoint_source));

  // Addressing.
  std::string style = Lower(Lookup(ps, "s3.addressing_style"));
  if (style.empty() || style == "auto") {
    config.addressing = S3Addressing::kAuto;
  } else if (style == "path") {
    config.addressing = S3Addressing::kPath;
  } else if (style == "virtual") {
    config.addressing = S3Addressing::kVirtual;
  } else {
    return Status::InvalidArgument(
        "s3: " + config_path + " [profile " + profile + "]",
        "s3 addressing_style must be auto, path or virtual");
  }

  // Attempts per request: AWS_MAX_ATTEMPTS, then the profile's
  // max_attempts (the AWS CLI's names; the first attempt counts).
  const std::pair<std::string, std::string> attempts[] = {
      {env.Get("AWS_MAX_ATTEMPTS"), "AWS_MAX_ATTEMPTS"},
      {Lookup(ps, "max_attempts"),
       config_path + " [profile " + profile + "] max_attempts"},
  };
  for (const auto& [value, source] : attempts) {
    if (value.empty()) continue;
    char* end = nullptr;
    errno = 0;
    long n = strtol(value.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || n < 1 || n > 100) {
      return Status::InvalidArgument("s3: " + source,
                                     "must be a whole number from 1 to 100");
    }
    config.max_attempts = static_cast<int>(n);
    break;
  }

  // CA bundle.
  config.ca_bundle = flags.ca_bundle;
  if (config.ca_bundle.empty()) config.ca_bundle = env.Get("AWS_CA_BUNDLE");
  if (config.ca_bundle.empty()) config.ca_bundle = Lookup(ps, "ca_bundle");
  config.ca_bundle = ExpandHome(config.ca_bundle, env.home);

  *out = std::move(config);
  return Status::OK();
}

}  // namespace valise
