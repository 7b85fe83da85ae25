# shellcheck shell=bash
# Deterministic test data, from nothing but coreutils and openssl: the same
# bytes on every machine and every run, at AES speed (GB/s), so datasets
# for tests, the demo and benchmarks need no stored files.
#
#   valise_gen_file PATH SIZE [KEY]   SIZE bytes derived from KEY (default
#                                     PATH); creates parent directories

valise_gen_file() {
  local path=$1 size=$2 key=${3:-$1} hexkey
  hexkey=$(printf '%s' "$key" | md5sum | cut -c1-32)
  mkdir -p "$(dirname "$path")"
  # AES-128-CTR over zeros: a keystream. CTR is a stream mode, so exactly
  # SIZE bytes come out of SIZE bytes in (no padding), and no pipe is cut
  # short (which pipefail would report as a failure).
  head -c "$size" /dev/zero |
    openssl enc -aes-128-ctr -K "$hexkey" \
      -iv 00000000000000000000000000000000 >"$path"
}
