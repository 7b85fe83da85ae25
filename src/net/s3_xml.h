// S3's XML: the answers the client reads and the bodies it sends, parsed
// with expat into a small tree and read from there.
//
// S3 answers are small documents (a list page of 1,000 keys is ~300 KB),
// so a tree is simplest: ParseXml builds one, and each Parse* function
// below walks it for one answer. Element names are compared without
// namespace (S3 puts xmlns="http://s3.amazonaws.com/doc/2006-03-01/" on the
// root, RGW the same). A document with a DOCTYPE or entity declaration is
// refused (no S3 answer has one; it is how entity-expansion attacks
// start), as is nesting deeper than 32.
//
// An error can arrive inside a 200 answer to CompleteMultipartUpload,
// UploadPartCopy and CopyObject (the store answers 200 at once, works,
// then writes either the result or an <Error>): those parsers turn an
// <Error> root into an error Status like any other.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "valise/s3.h"
#include "valise/status.h"

namespace valise::net {

struct XmlElement {
  std::string name;  // local name, without any "prefix:"
  std::string text;  // the character data directly inside
  std::vector<XmlElement> children;

  // The first child of that name, or null.
  const XmlElement* Child(std::string_view child) const;
  // Its text, or "" when there is no such child.
  std::string ChildText(std::string_view child) const;
};

// Corruption for malformed XML (with expat's message and line).
Status ParseXml(std::string_view body, XmlElement* root);

// <Error><Code/><Message/><RequestId/><HostId/></Error>.
struct S3ErrorBody {
  std::string code;
  std::string message;
  std::string request_id;
  std::string host_id;
};
// False when `body` is not an <Error> document.
bool ParseS3Error(std::string_view body, S3ErrorBody* error);

// Each of these: Corruption when the body is not the expected document;
// for the three that may carry an error in a 200, `*error_in_body` is set
// (and the Status is not OK) when the root is <Error>.
Status ParseInitiateMultipartUpload(std::string_view body,
                                    std::string* upload_id);
Status ParseCompleteMultipartUpload(std::string_view body, std::string* etag,
                                    S3ErrorBody* error_in_body);
Status ParseCopyResult(std::string_view body, std::string* etag,
                       S3ErrorBody* error_in_body);
// The list parsers decode keys and prefixes when the answer says
// <EncodingType>url</EncodingType> ('+' is a space there, as in a form:
// S3 encodes a space as '+', RGW as %20, and both encode '+'). RGW 16
// leaves <CommonPrefixes> unencoded even then: a common prefix holding '+'
// or '%' comes back wrong from it (valise lists flat, without a
// delimiter, so never meets one).
Status ParseListObjectsV2(std::string_view body, S3ListObjectsResult* result);
// `keys_url_encoded`: the request asked encoding-type=url, so the
// uploads' keys are decoded whether or not the answer says so (RGW 16
// encodes them without <EncodingType>, and leaves NextKeyMarker as is).
Status ParseListMultipartUploads(std::string_view body, bool keys_url_encoded,
                                 S3ListUploadsResult* result);
Status ParseListParts(std::string_view body, S3ListPartsResult* result);

// The body of a CompleteMultipartUpload request.
std::string CompleteMultipartUploadXml(
    const std::vector<S3CompletedPart>& parts);
// The parts named in such a body (the fake store reads it). Corruption
// when malformed.
Status ParseCompleteMultipartUploadRequest(std::string_view body,
                                           std::vector<S3CompletedPart>* parts);

// Bodies the fake store answers with.
std::string ErrorXml(const S3ErrorBody& error);
std::string InitiateMultipartUploadXml(std::string_view bucket,
                                       std::string_view key,
                                       std::string_view upload_id);
std::string CompleteMultipartUploadResultXml(std::string_view bucket,
                                             std::string_view key,
                                             std::string_view etag);
// root: "CopyObjectResult" or "CopyPartResult".
std::string CopyResultXml(std::string_view root, std::string_view etag);
// With `url_encoding` (the request asked encoding-type=url), keys and
// prefixes are URL-encoded and <EncodingType>url</EncodingType> says so.
std::string ListObjectsV2Xml(std::string_view bucket,
                             const S3ListObjectsRequest& request,
                             const S3ListObjectsResult& result,
                             bool url_encoding);
std::string ListMultipartUploadsXml(std::string_view bucket,
                                    std::string_view prefix,
                                    const S3ListUploadsResult& result,
                                    bool url_encoding);
std::string ListPartsXml(std::string_view bucket, std::string_view key,
                         std::string_view upload_id,
                         const S3ListPartsResult& result);

// ETags travel quoted ("\"abc\"", or &quot;abc&quot; in XML): without the
// quotes.
std::string UnquoteETag(std::string_view etag);
// &, <, >, " escaped.
std::string XmlEscape(std::string_view s);

}  // namespace valise::net
