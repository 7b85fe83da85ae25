# The S3 client (src/net/): SigV4 against the AWS vectors
# (tests/net/sigv4_suite/, found through VALISE_TEST_SIGV4_DIR), S3's XML,
# URLs and configuration, the retry policy, the read-only S3 file system
# (verify of an s3:// drive), the client over a scripted
# transport, the libcurl transport against a local HTTP server (and
# openssl s_server for TLS), and the fake store.
set(VALISE_TESTS_NET
  ${CMAKE_CURRENT_SOURCE_DIR}/net/curl_transport_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/fake_s3_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/http_test_server.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/retry_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/s3_client_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/s3_config_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/s3_file_system_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/s3_url_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/s3_xml_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/net/sigv4_test.cc
)
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/net/sigv4_test.cc
  PROPERTIES COMPILE_DEFINITIONS
  "VALISE_TEST_SIGV4_DIR=\"${CMAKE_CURRENT_SOURCE_DIR}/net/sigv4_suite\"")
# A development binary of just these tests (make valise_net_tests).
cmake_language(DEFER CALL valise_area_tests net
  AREAS util format io dest pipeline net SOURCES ${VALISE_TESTS_NET})
cmake_language(DEFER CALL target_link_libraries valise_net_tests PRIVATE
  CURL::libcurl EXPAT::EXPAT)
# The client against a real RGW (RgwS3Client.*), run by
# tests/e2e/s3_client.sh on the test cluster: a binary of its own, so the
# unit tests need no cluster.
add_executable(valise_rgw_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/net/rgw_client_test.cc)
target_link_libraries(valise_rgw_tests PRIVATE valise_core
  valise_test_support GTest::gtest_main)
target_include_directories(valise_rgw_tests PRIVATE ${PROJECT_SOURCE_DIR}/src)
