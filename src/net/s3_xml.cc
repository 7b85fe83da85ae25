#include "net/s3_xml.h"

#include <expat.h>

#include <charconv>

#include "net/sigv4.h"

namespace valise::net {
namespace {

constexpr int kMaxDepth = 32;
constexpr std::string_view kXmlns =
    " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

// The state of one parse: the open elements, innermost last.
struct TreeBuilder {
  XML_Parser parser = nullptr;
  XmlElement* root = nullptr;
  std::vector<XmlElement*> open;
  bool started = false;
  std::string refused;  // why the document was refused, if it was
};

std::string LocalName(const XML_Char* name) {
  std::string_view n(name);
  size_t colon = n.rfind(':');
  return std::string(colon == std::string_view::npos ? n : n.substr(colon + 1));
}

void Refuse(TreeBuilder* b, const char* why) {
  if (b->refused.empty()) b->refused = why;
  XML_StopParser(b->parser, XML_FALSE);
}

void OnStart(void* user, const XML_Char* name, const XML_Char**) {
  auto* b = static_cast<TreeBuilder*>(user);
  if (b->open.size() >= kMaxDepth) return Refuse(b, "nested too deep");
  XmlElement* e;
  if (b->open.empty()) {
    if (b->started) return Refuse(b, "two root elements");
    b->started = true;
    e = b->root;
  } else {
    b->open.back()->children.emplace_back();
    e = &b->open.back()->children.back();
  }
  e->name = LocalName(name);
  b->open.push_back(e);
}

void OnEnd(void* user, const XML_Char*) {
  static_cast<TreeBuilder*>(user)->open.pop_back();
}

void OnText(void* user, const XML_Char* s, int len) {
  auto* b = static_cast<TreeBuilder*>(user);
  if (!b->open.empty())
    b->open.back()->text.append(s, static_cast<size_t>(len));
}

void OnDoctype(void* user, const XML_Char*, const XML_Char*, const XML_Char*,
               int) {
  Refuse(static_cast<TreeBuilder*>(user), "a DOCTYPE");
}

void OnEntityDecl(void* user, const XML_Char*, int, const XML_Char*, int,
                  const XML_Char*, const XML_Char*, const XML_Char*,
                  const XML_Char*) {
  Refuse(static_cast<TreeBuilder*>(user), "an entity declaration");
}

// '+' is a space, then %XX escapes: how S3 encodes listings.
std::string FormDecode(std::string_view s) {
  std::string plus(s);
  for (char& c : plus) {
    if (c == '+') c = ' ';
  }
  std::string out;
  if (!UriDecode(plus, &out)) return plus;
  return out;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool ParseInt(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

Status Unexpected(std::string_view what, const XmlElement& root) {
  return Status::Corruption("S3 answer", "expected <" + std::string(what) +
                                             ">, got <" + root.name + ">");
}

// Parses `body` and checks the root's name; an <Error> root is reported
// through `error_in_body` when the caller allows it.
Status ParseRoot(std::string_view body, std::string_view expected,
                 XmlElement* root, S3ErrorBody* error_in_body) {
  VALISE_RETURN_IF_ERROR(ParseXml(body, root));
  if (root->name == expected) return Status::OK();
  if (root->name == "Error" && error_in_body != nullptr) {
    error_in_body->code = root->ChildText("Code");
    error_in_body->message = root->ChildText("Message");
    error_in_body->request_id = root->ChildText("RequestId");
    error_in_body->host_id = root->ChildText("HostId");
    return Status::IOError(
        "S3 answer", "an error inside a 200 response: " + error_in_body->code);
  }
  return Unexpected(expected, *root);
}

std::string Element(std::string_view name, std::string_view text) {
  std::string out = "<";
  out += name;
  out += '>';
  out += XmlEscape(text);
  out += "</";
  out += name;
  out += '>';
  return out;
}

std::string Quoted(std::string_view etag) {
  return "\"" + std::string(etag) + "\"";
}

std::string MaybeEncode(std::string_view s, bool url_encoding) {
  return url_encoding ? UriEncode(s, true) : std::string(s);
}

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child) const {
  for (const XmlElement& c : children) {
    if (c.name == child) return &c;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view child) const {
  const XmlElement* c = Child(child);
  return c == nullptr ? std::string() : c->text;
}

Status ParseXml(std::string_view body, XmlElement* root) {
  *root = XmlElement();
  TreeBuilder b;
  b.root = root;
  b.parser = XML_ParserCreate("UTF-8");
  if (b.parser == nullptr) return Status::IOError("XML", "out of memory");
  XML_SetUserData(b.parser, &b);
  XML_SetElementHandler(b.parser, &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(b.parser, &OnText);
  XML_SetStartDoctypeDeclHandler(b.parser, &OnDoctype);
  XML_SetEntityDeclHandler(b.parser, &OnEntityDecl);
  XML_Status st =
      XML_Parse(b.parser, body.data(), static_cast<int>(body.size()), XML_TRUE);
  Status s;
  if (!b.refused.empty()) {
    s = Status::Corruption("S3 answer", "XML with " + b.refused + " refused");
  } else if (st != XML_STATUS_OK) {
    s = Status::Corruption(
        "S3 answer", "malformed XML at line " +
                         std::to_string(XML_GetCurrentLineNumber(b.parser)) +
                         ": " + XML_ErrorString(XML_GetErrorCode(b.parser)));
  } else if (!b.started) {
    s = Status::Corruption("S3 answer", "no XML element");
  }
  XML_ParserFree(b.parser);
  return s;
}

bool ParseS3Error(std::string_view body, S3ErrorBody* error) {
  XmlElement root;
  if (!ParseXml(body, &root).ok() || root.name != "Error") return false;
  error->code = root.ChildText("Code");
  error->message = root.ChildText("Message");
  error->request_id = root.ChildText("RequestId");
  error->host_id = root.ChildText("HostId");
  return true;
}

Status ParseInitiateMultipartUpload(std::string_view body,
                                    std::string* upload_id) {
  XmlElement root;
  VALISE_RETURN_IF_ERROR(
      ParseRoot(body, "InitiateMultipartUploadResult", &root, nullptr));
  *upload_id = root.ChildText("UploadId");
  if (upload_id->empty()) {
    return Status::Corruption("S3 answer", "no UploadId");
  }
  return Status::OK();
}

Status ParseCompleteMultipartUpload(std::string_view body, std::string* etag,
                                    S3ErrorBody* error_in_body) {
  XmlElement root;
  VALISE_RETURN_IF_ERROR(
      ParseRoot(body, "CompleteMultipartUploadResult", &root, error_in_body));
  *etag = UnquoteETag(root.ChildText("ETag"));
  return Status::OK();
}

Status ParseCopyResult(std::string_view body, std::string* etag,
                       S3ErrorBody* error_in_body) {
  XmlElement root;
  Status s = ParseRoot(body, "CopyObjectResult", &root, error_in_body);
  if (!s.ok() && root.name != "CopyPartResult") return s;
  *etag = UnquoteETag(root.ChildText("ETag"));
  if (etag->empty()) return Status::Corruption("S3 answer", "no ETag");
  return Status::OK();
}

Status ParseListObjectsV2(std::string_view body, S3ListObjectsResult* result) {
  *result = S3ListObjectsResult();
  XmlElement root;
  VALISE_RETURN_IF_ERROR(ParseRoot(body, "ListBucketResult", &root, nullptr));
  bool url = root.ChildText("EncodingType") == "url";
  auto key = [url](const std::string& s) { return url ? FormDecode(s) : s; };
  for (const XmlElement& c : root.children) {
    if (c.name == "Contents") {
      S3ObjectSummary o;
      o.key = key(c.ChildText("Key"));
      o.etag = UnquoteETag(c.ChildText("ETag"));
      o.last_modified = c.ChildText("LastModified");
      if (!ParseU64(c.ChildText("Size"), &o.size)) {
        return Status::Corruption("S3 answer", "bad <Size> of " + o.key);
      }
      result->objects.push_back(std::move(o));
    } else if (c.name == "CommonPrefixes") {
      result->common_prefixes.push_back(key(c.ChildText("Prefix")));
    }
  }
  result->truncated = root.ChildText("IsTruncated") == "true";
  result->next_continuation_token = root.ChildText("NextContinuationToken");
  if (result->truncated && result->next_continuation_token.empty()) {
    return Status::Corruption("S3 answer",
                              "a truncated listing without a continuation");
  }
  return Status::OK();
}

Status ParseListMultipartUploads(std::string_view body, bool keys_url_encoded,
                                 S3ListUploadsResult* result) {
  *result = S3ListUploadsResult();
  XmlElement root;
  VALISE_RETURN_IF_ERROR(
      ParseRoot(body, "ListMultipartUploadsResult", &root, nullptr));
  // AWS says <EncodingType>url</EncodingType> and encodes every key and
  // marker; RGW 16 encodes the uploads' keys only, and does not say so.
  bool url = root.ChildText("EncodingType") == "url";
  auto key = [url](const std::string& s) { return url ? FormDecode(s) : s; };
  for (const XmlElement& c : root.children) {
    if (c.name != "Upload") continue;
    S3UploadSummary u;
    u.key = keys_url_encoded ? FormDecode(c.ChildText("Key"))
                             : key(c.ChildText("Key"));
    u.upload_id = c.ChildText("UploadId");
    u.initiated = c.ChildText("Initiated");
    result->uploads.push_back(std::move(u));
  }
  result->truncated = root.ChildText("IsTruncated") == "true";
  result->next_key_marker = key(root.ChildText("NextKeyMarker"));
  result->next_upload_id_marker = root.ChildText("NextUploadIdMarker");
  return Status::OK();
}

Status ParseListParts(std::string_view body, S3ListPartsResult* result) {
  *result = S3ListPartsResult();
  XmlElement root;
  VALISE_RETURN_IF_ERROR(ParseRoot(body, "ListPartsResult", &root, nullptr));
  for (const XmlElement& c : root.children) {
    if (c.name != "Part") continue;
    S3PartSummary p;
    p.etag = UnquoteETag(c.ChildText("ETag"));
    if (!ParseInt(c.ChildText("PartNumber"), &p.part_number) ||
        !ParseU64(c.ChildText("Size"), &p.size)) {
      return Status::Corruption("S3 answer", "bad <Part>");
    }
    result->parts.push_back(std::move(p));
  }
  result->truncated = root.ChildText("IsTruncated") == "true";
  std::string next = root.ChildText("NextPartNumberMarker");
  if (!next.empty() && !ParseInt(next, &result->next_part_number_marker)) {
    return Status::Corruption("S3 answer", "bad <NextPartNumberMarker>");
  }
  return Status::OK();
}

std::string CompleteMultipartUploadXml(
    const std::vector<S3CompletedPart>& parts) {
  std::string out = "<CompleteMultipartUpload";
  out += kXmlns;
  out += '>';
  for (const S3CompletedPart& p : parts) {
    out += "<Part>";
    out += Element("PartNumber", std::to_string(p.part_number));
    out += Element("ETag", Quoted(p.etag));
    out += "</Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

Status ParseCompleteMultipartUploadRequest(
    std::string_view body, std::vector<S3CompletedPart>* parts) {
  parts->clear();
  XmlElement root;
  VALISE_RETURN_IF_ERROR(
      ParseRoot(body, "CompleteMultipartUpload", &root, nullptr));
  for (const XmlElement& c : root.children) {
    if (c.name != "Part") continue;
    S3CompletedPart p;
    if (!ParseInt(c.ChildText("PartNumber"), &p.part_number)) {
      return Status::Corruption("S3 request", "bad <PartNumber>");
    }
    p.etag = UnquoteETag(c.ChildText("ETag"));
    parts->push_back(std::move(p));
  }
  return Status::OK();
}

std::string ErrorXml(const S3ErrorBody& error) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>" +
         Element("Code", error.code) + Element("Message", error.message) +
         Element("RequestId", error.request_id) +
         Element("HostId", error.host_id) + "</Error>";
}

std::string InitiateMultipartUploadXml(std::string_view bucket,
                                       std::string_view key,
                                       std::string_view upload_id) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
         "<InitiateMultipartUploadResult" +
         std::string(kXmlns) + ">" + Element("Bucket", bucket) +
         Element("Key", key) + Element("UploadId", upload_id) +
         "</InitiateMultipartUploadResult>";
}

std::string CompleteMultipartUploadResultXml(std::string_view bucket,
                                             std::string_view key,
                                             std::string_view etag) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
         "<CompleteMultipartUploadResult" +
         std::string(kXmlns) + ">" +
         Element("Location",
                 "/" + std::string(bucket) + "/" + std::string(key)) +
         Element("Bucket", bucket) + Element("Key", key) +
         Element("ETag", Quoted(etag)) + "</CompleteMultipartUploadResult>";
}

std::string CopyResultXml(std::string_view root, std::string_view etag) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><" + std::string(root) +
         std::string(kXmlns) + ">" +
         Element("LastModified", "2024-01-01T00:00:00.000Z") +
         Element("ETag", Quoted(etag)) + "</" + std::string(root) + ">";
}

std::string ListObjectsV2Xml(std::string_view bucket,
                             const S3ListObjectsRequest& request,
                             const S3ListObjectsResult& result,
                             bool url_encoding) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult" +
      std::string(kXmlns) + ">";
  out += Element("Name", bucket);
  out += Element("Prefix", MaybeEncode(request.prefix, url_encoding));
  out += Element("KeyCount", std::to_string(result.objects.size() +
                                            result.common_prefixes.size()));
  out += Element("MaxKeys", std::to_string(request.max_keys));
  if (!request.delimiter.empty()) {
    out += Element("Delimiter", MaybeEncode(request.delimiter, url_encoding));
  }
  if (url_encoding) out += Element("EncodingType", "url");
  out += Element("IsTruncated", result.truncated ? "true" : "false");
  if (!request.continuation_token.empty()) {
    out += Element("ContinuationToken", request.continuation_token);
  }
  if (result.truncated) {
    out += Element("NextContinuationToken", result.next_continuation_token);
  }
  for (const S3ObjectSummary& o : result.objects) {
    out += "<Contents>";
    out += Element("Key", MaybeEncode(o.key, url_encoding));
    out += Element("LastModified", o.last_modified);
    out += Element("ETag", Quoted(o.etag));
    out += Element("Size", std::to_string(o.size));
    out += Element("StorageClass", "STANDARD");
    out += "</Contents>";
  }
  for (const std::string& p : result.common_prefixes) {
    out += "<CommonPrefixes>" +
           Element("Prefix", MaybeEncode(p, url_encoding)) +
           "</CommonPrefixes>";
  }
  out += "</ListBucketResult>";
  return out;
}

std::string ListMultipartUploadsXml(std::string_view bucket,
                                    std::string_view prefix,
                                    const S3ListUploadsResult& result,
                                    bool url_encoding) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult" +
      std::string(kXmlns) + ">";
  out += Element("Bucket", bucket);
  out += Element("Prefix", MaybeEncode(prefix, url_encoding));
  if (url_encoding) out += Element("EncodingType", "url");
  out += Element("NextKeyMarker",
                 MaybeEncode(result.next_key_marker, url_encoding));
  out += Element("NextUploadIdMarker", result.next_upload_id_marker);
  out += Element("MaxUploads", "1000");
  out += Element("IsTruncated", result.truncated ? "true" : "false");
  for (const S3UploadSummary& u : result.uploads) {
    out += "<Upload>";
    out += Element("Key", MaybeEncode(u.key, url_encoding));
    out += Element("UploadId", u.upload_id);
    out += Element("StorageClass", "STANDARD");
    out += Element("Initiated", u.initiated);
    out += "</Upload>";
  }
  out += "</ListMultipartUploadsResult>";
  return out;
}

std::string ListPartsXml(std::string_view bucket, std::string_view key,
                         std::string_view upload_id,
                         const S3ListPartsResult& result) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListPartsResult" +
      std::string(kXmlns) + ">";
  out += Element("Bucket", bucket);
  out += Element("Key", key);
  out += Element("UploadId", upload_id);
  out += Element("NextPartNumberMarker",
                 std::to_string(result.next_part_number_marker));
  out += Element("MaxParts", "1000");
  out += Element("IsTruncated", result.truncated ? "true" : "false");
  for (const S3PartSummary& p : result.parts) {
    out += "<Part>";
    out += Element("LastModified", "2024-01-01T00:00:00.000Z");
    out += Element("PartNumber", std::to_string(p.part_number));
    out += Element("ETag", Quoted(p.etag));
    out += Element("Size", std::to_string(p.size));
    out += "</Part>";
  }
  out += "</ListPartsResult>";
  return out;
}

std::string UnquoteETag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace valise::net
