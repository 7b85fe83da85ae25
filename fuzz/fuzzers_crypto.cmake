# Fuzzers for the journal (owner: crypto work). Seed corpus:
# fuzz/corpus/journal/. Run on a copy of it, so that new inputs do not land
# in the repository:
#   cp -r fuzz/corpus/journal /tmp/jc && ./journal_fuzz -max_total_time=20 /tmp/jc
valise_fuzzer(journal_fuzz)

# valise_fuzzer() instruments only the fuzzer's own .cc, but the code under
# test is in the valise_util and valise_format object libraries: without
# coverage instrumentation there libFuzzer is blind to the parser's branches,
# and without ASan there an out-of-bounds read in it goes unseen. Instrument
# them (fuzzer-no-link: coverage hooks without libFuzzer's main). Only this
# fuzz build tree is affected; done once even if another fuzzers file does
# the same. (Belongs in valise_fuzzer() in fuzz/CMakeLists.txt.)
get_property(_valise_instrumented GLOBAL PROPERTY VALISE_FUZZ_INSTRUMENTED)
if(NOT _valise_instrumented)
  set_property(GLOBAL PROPERTY VALISE_FUZZ_INSTRUMENTED TRUE)
  foreach(area util format)
    target_compile_options(valise_${area} PRIVATE
      -fsanitize=fuzzer-no-link,address,undefined)
  endforeach()
endif()
