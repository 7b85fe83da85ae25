valise_benchmark(hash_bench)
valise_benchmark(read_engine_bench)
valise_benchmark(manifest_bench)
valise_benchmark(dedup_index_bench)
valise_benchmark(parity_bench)
# Not a Google Benchmark: the S3 store's own write limit, a plain program
# scripts/bench-peers s3 runs (see its header).
add_executable(valise_s3_put_limit s3_put_limit.cc)
target_link_libraries(valise_s3_put_limit PRIVATE valise_core)
