# shellcheck shell=bash
# scripts/bench-peers summary [--doc FILE]: reads the ratio tables of the
# verify and ingest sections of docs/benchmarks.md (or FILE), as
# scripts/bench-peers wrote them, and writes the "figures" section: each
# figure DESIGN.md asks for ("Figures it must reach"), the ratio measured
# here, and whether it is met. Nothing in it is typed: a figure the tables
# lack says so. `scripts/bench-peers all` runs it last.

# bench_section_rows DOC NAME: the ratio rows of section NAME, one per line,
# as "label<TAB>value<TAB>target<TAB>met".
bench_section_rows() {
  local doc=$1 name=$2
  awk -v b="<!-- bench-peers $name: begin" -v e="<!-- bench-peers $name: end -->" '
    index($0, b) == 1 { in_section = 1; next }
    $0 == e { in_section = 0 }
    in_section && /^\| ratio \|/ { in_table = 1; next }
    in_section && in_table && /^\|---/ { next }
    in_section && in_table && /^\|/ {
      n = split($0, f, "|")
      for (i = 2; i <= 5; i++) gsub(/^ +| +$/, "", f[i])
      printf "%s\t%s\t%s\t%s\n", f[2], f[3], f[4], f[5]
      next
    }
    { in_table = 0 }' "$doc"
}

# bench_section_origin DOC NAME: "DATE, tree T" of section NAME.
bench_section_origin() {
  local doc=$1 name=$2
  awk -v b="<!-- bench-peers $name: begin" -v e="<!-- bench-peers $name: end -->" '
    index($0, b) == 1 { in_section = 1; next }
    $0 == e { in_section = 0 }
    in_section && /^### / && !date { if (match($0, /\(([0-9-]+)\)/)) date = substr($0, RSTART + 1, RLENGTH - 2) }
    in_section && /tree [0-9a-f]+/ && !tree { match($0, /tree [0-9a-f]+/); tree = substr($0, RSTART + 5, RLENGTH - 5) }
    END { printf "%s, tree %s", date ? date : "?", tree ? tree : "?" }' "$doc"
}

bench_summary_main() {
  local doc=$VALISE_REPO/docs/benchmarks.md
  while (($#)); do
    case $1 in
      --doc) doc=${2:?--doc needs a file}; shift ;;
      *) valise_die "summary: unknown argument: $1" ;;
    esac
    shift
  done
  [[ -r "$doc" ]] || valise_die "summary: cannot read $doc"
  declare -A row=()
  local name label rest
  for name in verify ingest; do
    while IFS=$'\t' read -r label rest; do
      row["$name:$label"]=$rest
    done < <(bench_section_rows "$doc" "$name")
  done
  local section
  section=$(mktemp "${TMPDIR:-/tmp}/bench-summary.XXXXXX")
  # figure WHAT AGAINST TARGET SECTION LABEL: one row of the table.
  figure() {
    local what=$1 against=$2 target=$3 sec=$4 lab=$5 value met
    if [[ -n "${row[$sec:$lab]:-}" ]]; then
      IFS=$'\t' read -r value _ met <<<"${row[$sec:$lab]}"
      [[ "$met" == yes ]] && met="yes" || met="**no**"
      printf '| %s | %s | %s | %s | %s | %s: %s |\n' "$what" "$against" \
        "$target" "$value" "$met" "$sec" "$lab"
    else
      printf '| %s | %s | %s | not measured | | the %s section has no row "%s" |\n' \
        "$what" "$against" "$target" "$sec" "$lab"
    fi
  }
  {
    echo "### DESIGN.md's figures, read from the tables above"
    echo
    echo "Written by \`scripts/bench-peers summary\` from the ratio tables of" \
      "this file: verify ($(bench_section_origin "$doc" verify)), ingest" \
      "($(bench_section_origin "$doc" ingest))."
    echo
    echo "| DESIGN.md figure | against | target | measured | met | row it is read from |"
    echo "|---|---|---|---:|---|---|"
    figure "raw read of N drives" "fio read" ">= 0.95" verify "valise raw read / fio read"
    figure "verify, large files, xxh128" "fio read" ">= 0.90" verify "valise xxh128 / fio read"
    figure "verify, large files, sha256" "hash limit" ">= 0.85" verify "valise sha256 / hash limit"
    figure "ingest, large files" "min(fio read, fio write)" ">= 0.85" ingest "valise / min(fio read, fio write), large files"
    figure "verify" "sha256sum -c" ">= 3" verify "valise sha256 / sha256sum -c"
    figure "verify" "hashdeep -a" ">= 3" verify "valise sha256 / hashdeep -a"
    figure "verify" "rclone checksum" ">= 3" verify "valise sha256 / rclone checksum"
    figure "verify" "sha256sum per drive in parallel" ">= 1.5" verify "valise sha256 / parallel sha256sum"
    figure "ingest" "rsync -a" ">= 3" ingest "valise / rsync -a, large files"
    figure "ingest" "cp -a + sha256sum -c" ">= 3" ingest "valise / cp -a + sha256sum -c, large files"
    figure "ingest" "rclone copy --checksum" ">= 3" ingest "valise / rclone copy --checksum, large files"
    figure "small files (files/s)" "rsync -a" ">= 3" ingest "valise / rsync -a, small files (files/s)"
    figure "CPU" "bare hash cost (openssl speed)" "<= 1.15" verify "valise --hash-only sha256 CPU / bare SHA-256 CPU"
    echo "| memory | buffer pool + 200 B per entry + 64 MiB | never above | not measured here | | the test \`cli_big_manifest\` (\`VALISE_SLOW_TESTS=1\`) fails above the budget on a 10-million-line manifest |"
    echo
    echo "Small files are timed against rsync only (cp and rclone are not run" \
      "on them). Where a figure is not met, the notes under its section say" \
      "what bounds it on this machine."
  } >"$section"
  cat "$section"
  bench_write_doc "$doc" summary "$section"
  rm -f "$section"
  valise_log "wrote the figures into $doc"
}
