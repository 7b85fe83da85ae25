# The S3 client (include/valise/s3.h): HTTP over libcurl, SigV4 over
# OpenSSL, S3's XML through expat, configuration, and the fake store of
# the tests (include/valise/fake_s3.h).
set(VALISE_NET_SOURCES
  src/net/curl_transport.cc
  src/net/fake_s3.cc
  src/net/retry.cc
  src/net/s3_client.cc
  src/net/s3_config.cc
  src/net/s3_file_system.cc
  src/net/s3_url.cc
  src/net/s3_xml.cc
  src/net/sigv4.cc
)
