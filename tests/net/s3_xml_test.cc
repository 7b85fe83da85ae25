// S3's XML answers, parsed from bodies as AWS documents them and as RGW
// 16 writes them (entities for the ETag's quotes, no whitespace, extra
// elements such as <Tenant> and <Owner>).
#include "net/s3_xml.h"

#include "support/test_util.h"

namespace valise::net {
namespace {

// Goal: <Error> bodies give code, message, request id and host id, from
// AWS (with whitespace) and RGW (no <Message>, extra <BucketName>).
TEST(S3Xml, ErrorBodies) {
  S3ErrorBody e;
  ASSERT_TRUE(ParseS3Error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>
</Error>)",
                           &e));
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.message, "The resource you requested does not exist");
  EXPECT_EQ(e.request_id, "4442587FB7D0A2F9");
  EXPECT_EQ(e.host_id,
            "Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==");

  ASSERT_TRUE(ParseS3Error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket"
      "</Code><BucketName>nope</BucketName><RequestId>tx00000a6e1d3c3d2a8f0"
      "c1-0065a1b2c3-1014-default</RequestId><HostId>1014-default-default"
      "</HostId></Error>",
      &e));
  EXPECT_EQ(e.code, "NoSuchBucket");
  EXPECT_EQ(e.message, "");
  EXPECT_EQ(e.request_id, "tx00000a6e1d3c3d2a8f0c1-0065a1b2c3-1014-default");

  EXPECT_FALSE(ParseS3Error("", &e));
  EXPECT_FALSE(ParseS3Error("<html><body>502 Bad Gateway</body></html>", &e));
  EXPECT_FALSE(ParseS3Error("<Error><Code>x</Code>", &e));  // truncated
}

// Goal: the upload id of InitiateMultipartUploadResult (AWS's example and
// RGW's, which adds <Tenant>); none is an error.
TEST(S3Xml, InitiateMultipartUpload) {
  std::string id;
  ASSERT_VALISE_OK(ParseInitiateMultipartUpload(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>)",
      &id));
  EXPECT_EQ(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
  ASSERT_VALISE_OK(ParseInitiateMultipartUpload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult"
      " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Tenant></Tenant>"
      "<Bucket>b</Bucket><Key>a/b c</Key><UploadId>2~8Kd0xXjbAVX1L3Xm3pFd-"
      "pWBr2Iu_Tq</UploadId></InitiateMultipartUploadResult>",
      &id));
  EXPECT_EQ(id, "2~8Kd0xXjbAVX1L3Xm3pFd-pWBr2Iu_Tq");
  EXPECT_TRUE(ParseInitiateMultipartUpload(
                  "<InitiateMultipartUploadResult><Bucket>b</Bucket>"
                  "</InitiateMultipartUploadResult>",
                  &id)
                  .IsCorruption());
}

// Goal: CompleteMultipartUploadResult gives the ETag unquoted; an <Error>
// inside a 200 is an error with its code; RGW 16's empty ETag is empty.
TEST(S3Xml, CompleteMultipartUploadAndErrorInside200) {
  std::string etag;
  S3ErrorBody e;
  ASSERT_VALISE_OK(ParseCompleteMultipartUpload(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>http://Example-Bucket.s3.Region.amazonaws.com/Example-Object</Location>
  <Bucket>Example-Bucket</Bucket>
  <Key>Example-Object</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>)",
      &etag, &e));
  EXPECT_EQ(etag, "3858f62230ac3c915f300c664312c11f-9");

  ASSERT_VALISE_OK(ParseCompleteMultipartUpload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult"
      " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>"
      "127.0.0.1/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag></ETag>"
      "</CompleteMultipartUploadResult>",
      &etag, &e));
  EXPECT_EQ(etag, "");

  Status s = ParseCompleteMultipartUpload(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>InternalError</Code>
  <Message>We encountered an internal error. Please try again.</Message>
  <RequestId>656c76696e6727732072657175657374</RequestId>
  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>
</Error>)",
      &etag, &e);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(e.code, "InternalError");
  EXPECT_EQ(e.request_id, "656c76696e6727732072657175657374");
  EXPECT_TRUE(ParseCompleteMultipartUpload("<ListBucketResult/>", &etag, &e)
                  .IsCorruption());
}

// Goal: CopyObjectResult and CopyPartResult give the ETag; an <Error> in a
// 200 is an error.
TEST(S3Xml, CopyResults) {
  std::string etag;
  S3ErrorBody e;
  ASSERT_VALISE_OK(ParseCopyResult(
      R"(<CopyObjectResult>
   <LastModified>2009-10-28T22:32:00</LastModified>
   <ETag>"9b2cf535f27731c974343645a3985328"</ETag>
 </CopyObjectResult>)",
      &etag, &e));
  EXPECT_EQ(etag, "9b2cf535f27731c974343645a3985328");
  ASSERT_VALISE_OK(ParseCopyResult(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyPartResult xmlns=\"http:"
      "//s3.amazonaws.com/doc/2006-03-01/\"><LastModified>2024-03-01T10:00:00."
      "123Z</LastModified><ETag>&quot;b1946ac92492d2347c6235b4d2611184&quot;"
      "</ETag></CopyPartResult>",
      &etag, &e));
  EXPECT_EQ(etag, "b1946ac92492d2347c6235b4d2611184");
  EXPECT_FALSE(ParseCopyResult("<Error><Code>SlowDown</Code><Message>Please "
                               "reduce your request rate.</Message></Error>",
                               &etag, &e)
                   .ok());
  EXPECT_EQ(e.code, "SlowDown");
  EXPECT_FALSE(ParseCopyResult("<CopyObjectResult/>", &etag, &e).ok());
}

// Goal: ListBucketResult v2 with a continuation, common prefixes and
// URL-encoded keys (AWS encodes a space as '+', RGW as %20; both encode
// '+' as %2B); a truncated page without a token is refused.
TEST(S3Xml, ListObjectsV2) {
  S3ListObjectsResult r;
  ASSERT_VALISE_OK(ParseListObjectsV2(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix></Prefix>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <EncodingType>url</EncodingType>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>happy+face%2B1.jpg</Key>
    <LastModified>2014-11-21T19:40:05.000Z</LastModified>
    <ETag>"70ee1738b6b21e2c8a43f3a5ab0eee71"</ETag>
    <Size>11</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>photos/2006/</Prefix></CommonPrefixes>
</ListBucketResult>)",
      &r));
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].key, "happy face+1.jpg");
  EXPECT_EQ(r.objects[0].size, 11u);
  EXPECT_EQ(r.objects[0].etag, "70ee1738b6b21e2c8a43f3a5ab0eee71");
  EXPECT_EQ(r.objects[0].last_modified, "2014-11-21T19:40:05.000Z");
  ASSERT_EQ(r.common_prefixes.size(), 1u);
  EXPECT_EQ(r.common_prefixes[0], "photos/2006/");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.next_continuation_token,
            "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

  // RGW: %20 for a space, entities for the quotes, <Owner> and <Type>.
  ASSERT_VALISE_OK(ParseListObjectsV2(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\""
      "http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p%2F"
      "</Prefix><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType>"
      "<IsTruncated>false</IsTruncated><Contents><Key>p/a%20b%C3%A9</Key>"
      "<LastModified>2024-03-01T10:00:00.123Z</LastModified><ETag>&quot;"
      "d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size>"
      "<StorageClass>STANDARD</StorageClass><Owner><ID>u</ID><DisplayName>u"
      "</DisplayName></Owner><Type>Normal</Type></Contents><KeyCount>1"
      "</KeyCount></ListBucketResult>",
      &r));
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].key, "p/a b\xC3\xA9");
  EXPECT_EQ(r.objects[0].size, 0u);
  EXPECT_FALSE(r.truncated);

  // Without <EncodingType>, keys are taken as they are ('+' stays).
  ASSERT_VALISE_OK(ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a+b"
      "</Key><Size>1</Size></Contents></ListBucketResult>",
      &r));
  EXPECT_EQ(r.objects[0].key, "a+b");

  EXPECT_TRUE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true"
                                 "</IsTruncated></ListBucketResult>",
                                 &r)
                  .IsCorruption());
  EXPECT_TRUE(ParseListObjectsV2("<ListBucketResult><Contents><Key>a</Key>"
                                 "<Size>x</Size></Contents></ListBucketResult>",
                                 &r)
                  .IsCorruption());
}

// Goal: ListMultipartUploadsResult (AWS's example: nested <Initiator> and
// <Owner> ids are not mistaken for the upload's fields) with its markers.
TEST(S3Xml, ListMultipartUploads) {
  S3ListUploadsResult r;
  ASSERT_VALISE_OK(ParseListMultipartUploads(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket>
  <KeyMarker></KeyMarker>
  <UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>my-movie.m2ts</NextKeyMarker>
  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>
  <MaxUploads>3</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload>
    <Key>my-divisor</Key>
    <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
    <Initiator>
      <ID>arn:aws:iam::111122223333:user/user1</ID>
      <DisplayName>user1</DisplayName>
    </Initiator>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>OwnerDisplayName</DisplayName>
    </Owner>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
  <Upload>
    <Key>my-movie.m2ts</Key>
    <UploadId>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</UploadId>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
</ListMultipartUploadsResult>)",
      false, &r));
  ASSERT_EQ(r.uploads.size(), 2u);
  EXPECT_EQ(r.uploads[0].key, "my-divisor");
  EXPECT_EQ(r.uploads[0].upload_id,
            "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw");
  EXPECT_EQ(r.uploads[0].initiated, "2010-11-10T20:48:33.000Z");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.next_key_marker, "my-movie.m2ts");
  EXPECT_EQ(r.next_upload_id_marker,
            "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
}

// Goal: ListPartsResult's parts and next marker (AWS's example).
TEST(S3Xml, ListParts) {
  S3ListPartsResult r;
  ASSERT_VALISE_OK(ParseListParts(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>)",
      &r));
  ASSERT_EQ(r.parts.size(), 2u);
  EXPECT_EQ(r.parts[0].part_number, 2);
  EXPECT_EQ(r.parts[0].size, 10485760u);
  EXPECT_EQ(r.parts[0].etag, "7778aef83f66abc1fa1e8477f296d394");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.next_part_number_marker, 3);
}

// Goal: a DOCTYPE (the start of entity-expansion attacks), junk, two roots
// and deep nesting are refused.
TEST(S3Xml, HostileDocuments) {
  XmlElement root;
  EXPECT_TRUE(ParseXml("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol "
                       "\"lol\">]><Error><Code>&lol;</Code></Error>",
                       &root)
                  .IsCorruption());
  EXPECT_TRUE(ParseXml("not xml", &root).IsCorruption());
  EXPECT_TRUE(ParseXml("", &root).IsCorruption());
  EXPECT_TRUE(ParseXml("<a/><b/>", &root).IsCorruption());
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<a>";
  for (int i = 0; i < 40; ++i) deep += "</a>";
  EXPECT_TRUE(ParseXml(deep, &root).IsCorruption());
}

// Goal: the Complete request body round-trips (the client writes it, the
// fake store reads it); special characters are escaped.
TEST(S3Xml, CompleteRequestRoundTrip) {
  std::vector<S3CompletedPart> parts = {
      {1, "a54357aff0632cce46d942af68356b38"},
      {2, "0c78aef83f66abc1fa1e8477f296d394"}};
  std::string xml = CompleteMultipartUploadXml(parts);
  EXPECT_NE(xml.find("<Part><PartNumber>1</PartNumber><ETag>&quot;"
                     "a54357aff0632cce46d942af68356b38&quot;</ETag></Part>"),
            std::string::npos);
  std::vector<S3CompletedPart> back;
  ASSERT_VALISE_OK(ParseCompleteMultipartUploadRequest(xml, &back));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].part_number, 2);
  EXPECT_EQ(back[1].etag, parts[1].etag);
  EXPECT_EQ(XmlEscape("a<b>&\"c"), "a&lt;b&gt;&amp;&quot;c");
  EXPECT_EQ(UnquoteETag("\"abc\""), "abc");
  EXPECT_EQ(UnquoteETag("abc"), "abc");
}

// Goal: the fake store's list bodies parse back to what it listed,
// URL-encoded keys included.
TEST(S3Xml, FakeStoreBodiesRoundTrip) {
  S3ListObjectsRequest req;
  req.prefix = "p/";
  S3ListObjectsResult in;
  in.objects.push_back({"p/a b+c\x01", 3, "abc", "2024-01-01T00:00:00.000Z"});
  in.truncated = true;
  in.next_continuation_token = "dG9rZW4=";
  S3ListObjectsResult out;
  ASSERT_VALISE_OK(
      ParseListObjectsV2(ListObjectsV2Xml("b", req, in, true), &out));
  ASSERT_EQ(out.objects.size(), 1u);
  EXPECT_EQ(out.objects[0].key, "p/a b+c\x01");
  EXPECT_EQ(out.next_continuation_token, "dG9rZW4=");
  S3ListUploadsResult uin, uout;
  uin.uploads.push_back({"k y", "id1", "2024-01-01T00:00:00.000Z"});
  ASSERT_VALISE_OK(ParseListMultipartUploads(
      ListMultipartUploadsXml("b", "", uin, true), true, &uout));
  ASSERT_EQ(uout.uploads.size(), 1u);
  EXPECT_EQ(uout.uploads[0].key, "k y");
}

// Goal: bodies captured from Ceph 16.2's RGW (the test cluster) parse:
// ListObjectsV2 with encoding-type=url (keys encoded, <EncodingType> said,
// the continuation token raw), ListMultipartUploads with encoding-type=url
// (the key encoded without <EncodingType>, NextKeyMarker raw), ListParts,
// Initiate, Complete (an empty <ETag>), CopyPartResult and CopyObjectResult
// (ETags without quotes), errors with an empty <Message>.
TEST(S3Xml, RgwBodies) {
  S3ListObjectsResult lo;
  ASSERT_VALISE_OK(ParseListObjectsV2(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
      "xmlns=\"http:"
      "//s3.amazonaws.com/doc/2006-03-01/\"><EncodingType>url</EncodingType>"
      "<Name>s3client-try</Name><Prefix>ls/</Prefix><MaxKeys>2</MaxKeys>"
      "<IsTruncated>true</IsTruncated><Contents><Key>ls%2Fa</Key><LastModified>"
      "2026-12-06T02:45:19.637Z</LastModified><ETag>&quot;08fc0126e7ff69b5320a"
      "2ad76121b30b&quot;</ETag><Size>4</Size><StorageClass>STANDARD</StorageC"
      "lass><Type>Normal</Type></Contents><Contents><Key>ls%2Fa%20b%2Bc</Key>"
      "<LastModified>2026-12-06T02:46:05.871Z</LastModified><ETag>&quot;b1946a"
      "c92492d2347c6235b4d2611184&quot;</ETag><Size>6</Size><StorageClass>STAN"
      "DARD</StorageClass><Type>Normal</Type></Contents><NextContinuationToken>"
      "ls/a "
      "b+c</NextContinuationToken><KeyCount>2</KeyCount></ListBucketResult>",
      &lo));
  ASSERT_EQ(lo.objects.size(), 2u);
  EXPECT_EQ(lo.objects[1].key, "ls/a b+c");
  EXPECT_EQ(lo.objects[1].etag, "b1946ac92492d2347c6235b4d2611184");
  EXPECT_TRUE(lo.truncated);
  EXPECT_EQ(lo.next_continuation_token, "ls/a b+c");

  S3ListUploadsResult lu;
  ASSERT_VALISE_OK(ParseListMultipartUploads(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult x"
      "mlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>s3client-try</B"
      "ucket><NextKeyMarker>x y+z</NextKeyMarker><NextUploadIdMarker>2~rozYh85"
      "9_7BFRf3VKb1OFWGg9889paV</NextUploadIdMarker><MaxUploads>1000</MaxUploa"
      "ds><IsTruncated>false</IsTruncated><Upload><Key>x%20y%2Bz</Key><UploadI"
      "d>2~rozYh859_7BFRf3VKb1OFWGg9889paV</UploadId><Initiator><ID>valise</ID"
      "><DisplayName>valise tests</DisplayName></Initiator><Owner><ID>valise</"
      "ID><DisplayName>valise tests</DisplayName></Owner><StorageClass>STANDAR"
      "D</StorageClass><Initiated>2026-12-06T02:45:31.389Z</Initiated></Upload"
      "></ListMultipartUploadsResult>",
      true, &lu));
  ASSERT_EQ(lu.uploads.size(), 1u);
  EXPECT_EQ(lu.uploads[0].key, "x y+z");
  EXPECT_EQ(lu.uploads[0].upload_id, "2~rozYh859_7BFRf3VKb1OFWGg9889paV");
  EXPECT_EQ(lu.next_key_marker, "x y+z");

  S3ListPartsResult lp;
  ASSERT_VALISE_OK(ParseListParts(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListPartsResult xmlns=\"http:"
      "//s3.amazonaws.com/doc/2006-03-01/\"><Bucket>s3client-try</Bucket><Key>m"
      "p/x y</Key><UploadId>2~7m8pTSDPPVUG8UbHO1MrA5eAX7bHACG</UploadId><Stora"
      "geClass>STANDARD</StorageClass><PartNumberMarker>0</PartNumberMarker><N"
      "extPartNumberMarker>2</NextPartNumberMarker><MaxParts>1000</MaxParts><I"
      "sTruncated>false</IsTruncated><Owner><ID></ID><DisplayName></DisplayNam"
      "e></Owner><Part><LastModified>2026-12-06T02:47:03.829Z</LastModified><P"
      "artNumber>1</PartNumber><ETag>&quot;9ba0eef043bc336a66af852e0d1cb726&qu"
      "ot;</ETag><Size>5242880</Size></Part><Part><LastModified>2026-12-06T02:"
      "47:10.674Z</LastModified><PartNumber>2</PartNumber><ETag>&quot;b1946ac9"
      "2492d2347c6235b4d2611184&quot;</ETag><Size>6</Size></Part></ListPartsRe"
      "sult>",
      &lp));
  ASSERT_EQ(lp.parts.size(), 2u);
  EXPECT_EQ(lp.parts[0].size, 5242880u);
  EXPECT_EQ(lp.parts[0].etag, "9ba0eef043bc336a66af852e0d1cb726");
  EXPECT_EQ(lp.next_part_number_marker, 2);

  std::string id;
  ASSERT_VALISE_OK(ParseInitiateMultipartUpload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResul"
      "t xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>s3client-try"
      "</Bucket><Key>mp/x y</Key><UploadId>2~_OLkIEpVWYc6LK_hnFiUdojWNhJ68q6</"
      "UploadId></InitiateMultipartUploadResult>",
      &id));
  EXPECT_EQ(id, "2~_OLkIEpVWYc6LK_hnFiUdojWNhJ68q6");

  std::string etag = "x";
  S3ErrorBody e;
  ASSERT_VALISE_OK(ParseCompleteMultipartUpload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResul"
      "t xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>localhost/"
      "s3client-try/mp/x y</Location><Bucket>s3client-try</Bucket><Key>mp/x y"
      "</Key><ETag></ETag></CompleteMultipartUploadResult>",
      &etag, &e));
  EXPECT_EQ(etag, "");
  ASSERT_VALISE_OK(ParseCopyResult(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyPartResult xmlns=\"http:/"
      "/s3.amazonaws.com/doc/2006-03-01/\"><LastModified>2026-12-06T02:47:10.0"
      "00Z</LastModified><ETag>b1946ac92492d2347c6235b4d2611184</ETag></CopyPa"
      "rtResult>",
      &etag, &e));
  EXPECT_EQ(etag, "b1946ac92492d2347c6235b4d2611184");
  ASSERT_VALISE_OK(ParseCopyResult(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyObjectResult xmlns=\"http"
      "://s3.amazonaws.com/doc/2006-03-01/\"><LastModified>2026-12-06T02:47:45"
      ".957Z</LastModified><ETag>b1946ac92492d2347c6235b4d2611184</ETag></Copy"
      "ObjectResult>",
      &etag, &e));
  EXPECT_EQ(etag, "b1946ac92492d2347c6235b4d2611184");

  ASSERT_TRUE(ParseS3Error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotM"
      "atch</Code><Message></Message><RequestId>tx00000a06b6390d3006b01-006b14"
      "cce8-1006-default</RequestId><HostId>1006-default-default</HostId></Err"
      "or>",
      &e));
  EXPECT_EQ(e.code, "SignatureDoesNotMatch");
  EXPECT_EQ(e.message, "");
  EXPECT_EQ(e.request_id, "tx00000a06b6390d3006b01-006b14cce8-1006-default");
}

}  // namespace
}  // namespace valise::net
