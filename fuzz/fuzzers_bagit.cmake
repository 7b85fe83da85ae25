# Fuzzer for the BagIt tag-file readers (owner: bagit work). Seed corpus:
# fuzz/corpus/bagit/ (first byte: 0 bagit.txt, 1 bag-info.txt, 2/0x82
# manifest 0.97/1.0, 3 fetch.txt). Run on a copy of it:
#   cp -r fuzz/corpus/bagit /tmp/bc && ./bagit_fuzz -max_total_time=20 /tmp/bc
valise_fuzzer(bagit_fuzz)
