# Fuzzers for the manifest readers (owner: format work): one per parser,
# each parsing, re-writing and re-parsing, and aborting if the round trip
# is not exact. Seed corpora: fuzz/corpus/<name>/. Run on a copy, so new
# inputs do not land in the repository:
#   cp -r fuzz/corpus/manifest /tmp/mc && ./manifest_fuzz -max_total_time=20 /tmp/mc
valise_fuzzer(manifest_fuzz)
valise_fuzzer(sumfile_fuzz)
valise_fuzzer(hashdeep_fuzz)
valise_fuzzer(chunk_index_fuzz)
valise_fuzzer(chunk_index_v2_fuzz)

# The parsers live in the valise_util and valise_format object libraries,
# which valise_fuzzer() does not instrument: without coverage hooks there
# libFuzzer cannot see the parsers' branches, and without ASan there an
# out-of-bounds read goes unnoticed. Instrument them (fuzzer-no-link:
# coverage without libFuzzer's main), once per build tree even if another
# fuzzers file does the same.
get_property(_valise_instrumented GLOBAL PROPERTY VALISE_FUZZ_INSTRUMENTED)
if(NOT _valise_instrumented)
  set_property(GLOBAL PROPERTY VALISE_FUZZ_INSTRUMENTED TRUE)
  foreach(area util format)
    target_compile_options(valise_${area} PRIVATE
      -fsanitize=fuzzer-no-link,address,undefined)
  endforeach()
endif()
