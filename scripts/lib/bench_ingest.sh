# shellcheck shell=bash
# The t_* tools and helpers are called by name (bi_run "t_$t"):
# shellcheck disable=SC2317
# Integer sizes are rounded down on purpose (a/b*c):
# shellcheck disable=SC2017
# `scripts/bench-peers ingest`: valise ingest side by side with the limits
# (fio read of the drives, fio write to DEST) and with the tools an
# operator would otherwise use to land drives on storage (rsync -a, cp -a
# then sha256sum -c, rclone copy --checksum), as ratios (DESIGN.md,
# "Figures it must reach"; issues #3 and #5). The options are documented
# at the top of scripts/bench-peers.
#
# Sourced by scripts/bench-peers after lib/common.sh, deps.sh, drives.sh,
# data.sh and bench_common.sh. Entry point: bench_ingest_main ARGS...
# (it exits). Globals are prefixed bi_ where they could clash.
#
# Three data sets, all on the same drives (one directory each, so every
# tool is given exactly one set):
#   big/    large files (128 MiB), --size-gb per drive: throughput and
#           the limits;
#   small/  --small-files files of 4-64 KiB over all drives: files/s;
#   dup/    --dup-gb per drive in files of up to 32 MiB, every tenth file
#           a copy of another one under another name (10% duplicate
#           content): what valise's dedup saves.
# DEST is a file system on a loop device over an image file on the disk
# (under $TMPDIR, checked not to be a tmpfs), with the loop device in
# direct I/O mode so it behaves like a disk, not like a second page cache.

# ---- data ---------------------------------------------------------------

# Small files: sizes 4096..65536 bytes from a multiplicative hash of the
# file's index (deterministic, no state), contents cut from one AES-CTR
# keystream per drive (valise_gen_file's generator, one process per drive
# instead of one per file: 100k processes would take minutes).
# perl: args DIR DRIVE COUNT PER_DIR; SIZES_ONLY=1 prints the total bytes.
# shellcheck disable=SC2016  # perl's $variables, not the shell's
bi_small_perl='
use strict; use warnings;
my ($dir, $d, $n, $per) = @ARGV;
sub size_of { my $i = shift; return 4096 + (($i * 2654435761 + $d * 40503) % 61441); }
if ($ENV{SIZES_ONLY}) {
  my $t = 0; $t += size_of($_) for 0 .. $n - 1; print "$t\n"; exit 0;
}
binmode STDIN;
for my $i (0 .. $n - 1) {
  my $sub = sprintf("%s/d%d-%03d", $dir, $d, int($i / $per));
  mkdir $sub or die "mkdir $sub: $!" unless -d $sub;
  my $path = sprintf("%s/d%d-s%06d.bin", $sub, $d, $i);
  my ($want, $buf) = (size_of($i), "");
  while (length($buf) < $want) {
    my $got = read(STDIN, $buf, $want - length($buf), length($buf));
    die "keystream: $!" unless defined $got;
    die "keystream ended early" if $got == 0;
  }
  open(my $fh, ">:raw", $path) or die "open $path: $!";
  print $fh $buf or die "write $path: $!";
  close($fh) or die "close $path: $!";
}
'

# bi_small_bytes DRIVE COUNT: total bytes of that drive's small files.
bi_small_bytes() {
  SIZES_ONLY=1 perl -e "$bi_small_perl" /nonexistent "$1" "$2" 1000
}

# bi_gen_small DIR DRIVE COUNT: writes COUNT small files under DIR.
bi_gen_small() {
  local dir=$1 d=$2 n=$3 total hexkey
  total=$(bi_small_bytes "$d" "$n")
  hexkey=$(printf 'small:%s' "$d" | md5sum | cut -c1-32)
  mkdir -p "$dir"
  # Exactly TOTAL bytes of keystream: perl reads them all, so no pipe is
  # cut short.
  head -c "$total" /dev/zero |
    openssl enc -aes-128-ctr -K "$hexkey" \
      -iv 00000000000000000000000000000000 |
    perl -e "$bi_small_perl" "$dir" "$d" "$n" 1000
}

# ---- helpers ------------------------------------------------------------

# bi_count DIR: "FILES BYTES" of the regular files under DIR, valise's own
# DIR/.valise left out.
bi_count() {
  find "$1" -path "$1/.valise" -prune -o -type f -printf '%s\n' |
    awk '{n++; s += $1} END {printf "%d %.0f\n", n, s}'
}

# bi_json_num FILE KEY: the first number after "KEY": in a valise report
# (its top-level keys and its totals sit one per line, so no JSON tool is
# needed).
bi_json_num() {
  grep -o "\"$2\": *-\\{0,1\\}[0-9.eE+-]*" "$1" | head -n1 | sed 's/.*: *//'
}

bi_gbps() { awk -v b="$1" -v s="$2" 'BEGIN{printf "%.3f", (s > 0) ? b / s / 1e9 : 0}'; }
bi_per_s() { awk -v n="$1" -v s="$2" 'BEGIN{printf "%.0f", (s > 0) ? n / s : 0}'; }
# Milliseconds DEST's device has been busy (io_ticks of /proc/diskstats).
bi_dest_busy_ms() {
  awk -v d="$(basename "${DEV[dest]}")" '$3 == d {print $13}' /proc/diskstats
}

# Makes a drive whose image lives on the disk instead of /dev/shm, by
# pointing drives.sh's image directory there for one call; the image is
# under VALISE_WORK, so the cleanup removes it after detaching the loop.
# Then switches its loop device to direct I/O (no second page cache
# between the file system and the disk); records whether that worked.
declare -gA bi_dio=()
bi_make_disk_drive() {
  local name=$1 mb=$2 fs=$3 saved=$VALISE_SHM
  VALISE_SHM=$bi_disk_dir
  valise_make_drive "$name" "$mb" "$fs"
  VALISE_SHM=$saved
  if losetup --direct-io=on "${DEV[$name]}" 2>/dev/null; then
    bi_dio[$name]=on
  else
    bi_dio[$name]=off
  fi
}

# ---- main ---------------------------------------------------------------

bench_ingest_main() {
  local command_line="scripts/bench-peers ingest${*:+ $*}"
  size_gb=0.5
  runs=3
  ndrives=4
  nsmall=100000
  dup_gb=0.25
  drives_on=shm
  dest_fs=xfs
  write_docs=true
  doc=$VALISE_REPO/docs/benchmarks.md
  reports_dir=""
  bench_seconds=2
  small_budget=600
  while (($#)); do
    case $1 in
      --size-gb) size_gb=${2:?--size-gb needs a number}; shift ;;
      --runs) runs=${2:?--runs needs a number}; shift ;;
      --drives) ndrives=${2:?--drives needs a number}; shift ;;
      --small-files) nsmall=${2:?--small-files needs a number}; shift ;;
      --dup-gb) dup_gb=${2:?--dup-gb needs a number}; shift ;;
      --drives-on) drives_on=${2:?--drives-on needs shm or disk}; shift ;;
      --dest-fs) dest_fs=${2:?--dest-fs needs xfs, ext4 or btrfs}; shift ;;
      --doc) doc=${2:?--doc needs a file}; shift ;;
      --no-docs) write_docs=false ;;
      --reports) reports_dir=${2:?--reports needs a directory}; shift ;;
      --bench-seconds) bench_seconds=${2:?--bench-seconds needs a number}; shift ;;
      --small-budget) small_budget=${2:?--small-budget needs seconds}; shift ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) valise_die "unknown argument: $1" ;;
    esac
    shift
  done
  local num='^[0-9]+(\.[0-9]+)?$'
  [[ "$size_gb" =~ $num ]] || valise_die "--size-gb: not a number"
  [[ "$dup_gb" =~ $num ]] || valise_die "--dup-gb: not a number"
  [[ "$bench_seconds" =~ $num ]] || valise_die "--bench-seconds: not a number"
  [[ "$small_budget" =~ $num ]] || valise_die "--small-budget: not a number"
  [[ "$runs" =~ ^[1-9][0-9]*$ ]] || valise_die "--runs: not a positive integer"
  [[ "$ndrives" =~ ^[1-9][0-9]*$ ]] || valise_die "--drives: not a positive integer"
  [[ "$nsmall" =~ ^[0-9]+$ ]] || valise_die "--small-files: not an integer"
  [[ "$drives_on" =~ ^(shm|disk)$ ]] || valise_die "--drives-on: shm or disk"
  [[ "$dest_fs" =~ ^(xfs|ext4|btrfs)$ ]] || valise_die "--dest-fs: xfs, ext4 or btrfs"
  if [[ -n "$reports_dir" && ! -d "$reports_dir" ]]; then
    valise_die "--reports: $reports_dir is not a directory"
  fi
  if [[ $(id -u) -ne 0 ]]; then
    valise_die "needs root (loop devices, mount, /proc/sys/vm/drop_caches)"
  fi

  valise_ensure_deps
  local built_here=true
  if [[ -n "${VALISE:-}" && -x "${VALISE}" ]]; then built_here=false; fi
  valise_build_binary "$VALISE_REPO/build-release" Release || exit 2
  valise_drives_init valise-bench-ingest
  W=$VALISE_WORK
  cores=$(nproc)
  MiB=1048576
  local t0_all
  t0_all=$(valise_now)

  # Where the on-disk images go: under VALISE_WORK, which must be on a
  # disk (DEST in memory would measure nothing the brief asks for).
  bi_disk_dir=$W/disk
  mkdir -p "$bi_disk_dir"
  read -r disk_src disk_fstype < <(df --output=source,fstype "$bi_disk_dir" |
    tail -n1)
  if [[ "$disk_fstype" == tmpfs || "$disk_fstype" == ramfs ]]; then
    valise_die "$bi_disk_dir is on $disk_fstype; set TMPDIR to a directory on disk"
  fi

  # ---- sizes ------------------------------------------------------------
  local file_mb=128 d
  big_mb=$(awk -v g="$size_gb" 'BEGIN{printf "%d", g * 1024 + 0.5}')
  ((big_mb >= 1)) || valise_die "--size-gb too small (under 1 MiB)"
  dup_mb_total=$(awk -v g="$dup_gb" -v n="$ndrives" 'BEGIN{printf "%d", g * 1024 * n + 0.5}')
  # Duplicate set: a multiple of 10 files (every tenth a copy), each at
  # most 32 MiB, 4 KiB-aligned.
  dup_files=0
  dup_file_bytes=0
  if ((dup_mb_total > 0)); then
    dup_files=$(((dup_mb_total + 319) / 320 * 10))
    dup_file_bytes=$((dup_mb_total * MiB / dup_files / 4096 * 4096))
    ((dup_file_bytes >= 4096)) || valise_die "--dup-gb too small"
  fi
  declare -gA small_n=() small_b=()
  local small_total_b=0
  for ((d = 1; d <= ndrives; d++)); do
    small_n[$d]=$((nsmall / ndrives + (d <= nsmall % ndrives ? 1 : 0)))
    small_b[$d]=$(bi_small_bytes "$d" "${small_n[$d]}")
    small_total_b=$((small_total_b + small_b[$d]))
  done

  # ---- drives -----------------------------------------------------------
  drives=()
  local image_mb per_dup_mb
  per_dup_mb=$(((dup_files + ndrives - 1) / ndrives * dup_file_bytes / MiB + 1))
  # Room for the data (the images are sparse: only what is written
  # counts), checked before anything is made. DEST holds one set at a time.
  local need_drives_mb need_dest_mb where avail_mb
  need_drives_mb=$((ndrives * (big_mb + per_dup_mb) + small_total_b / MiB + nsmall / 128))
  need_drives_mb=$((need_drives_mb + need_drives_mb / 8))
  need_dest_mb=$(((small_total_b + nsmall * 4096) / MiB))
  ((ndrives * big_mb > need_dest_mb)) && need_dest_mb=$((ndrives * big_mb))
  need_dest_mb=$((need_dest_mb + need_dest_mb / 8 + 64))
  where=$VALISE_SHM
  [[ "$drives_on" == disk ]] && where=$bi_disk_dir
  avail_mb=$(($(df --output=avail -k "$where" | tail -n1) / 1024))
  if [[ "$drives_on" == disk ]]; then
    need_drives_mb=$((need_drives_mb + need_dest_mb))
  else
    local disk_avail_mb=$(($(df --output=avail -k "$bi_disk_dir" | tail -n1) / 1024))
    ((disk_avail_mb >= need_dest_mb)) ||
      valise_die "DEST needs about $need_dest_mb MiB on $disk_src; $disk_avail_mb MiB free"
  fi
  ((avail_mb >= need_drives_mb)) ||
    valise_die "the drives need about $need_drives_mb MiB in $where; $avail_mb MiB free"
  valise_log "making $ndrives ext4 drives ($drives_on): $big_mb MiB of large" \
    "files, ${small_n[1]} small files, $per_dup_mb MiB of the duplicate set each"
  for ((d = 1; d <= ndrives; d++)); do
    # Data, a 4 KiB block and an inode per small file, ext4's metadata
    # and journal: the images are sparse, so room costs nothing.
    image_mb=$((big_mb + per_dup_mb + ${small_b[$d]} / MiB + ${small_n[$d]} / 128))
    image_mb=$((image_mb + image_mb / 8 + 160))
    if [[ "$drives_on" == disk ]]; then
      bi_make_disk_drive "d$d" "$image_mb" ext4
    else
      valise_make_drive "d$d" "$image_mb" ext4
    fi
    drives+=("${MNT[d$d]}")
  done

  # DEST: on the disk, big enough for the largest set (and fio's files).
  local largest=$((ndrives * big_mb * MiB))
  ((small_total_b + nsmall * 4096 > largest)) && largest=$((small_total_b + nsmall * 4096))
  ((dup_files * dup_file_bytes > largest)) && largest=$((dup_files * dup_file_bytes))
  local dest_mb=$((largest / MiB + largest / MiB / 4 + 512))
  valise_log "making DEST: $dest_fs on a loop device over $dest_mb MiB image on $disk_src"
  bi_make_disk_drive dest "$dest_mb" "$dest_fs"
  DEST_MNT=${MNT[dest]}
  OUT=$DEST_MNT/out

  # ---- data sets --------------------------------------------------------
  local t0 i left mb
  t0=$(valise_now)
  srcs_big=()
  srcs_small=()
  srcs_dup=()
  for ((d = 1; d <= ndrives; d++)); do
    local dir=${drives[d - 1]}
    srcs_big+=("$dir/big")
    left=$big_mb
    i=0
    while ((left > 0)); do
      mb=$((left < file_mb ? left : file_mb))
      # Names unique across drives: a path names one content in a manifest.
      valise_gen_file "$dir/big/d$d-big-$(printf '%03d' "$i").bin" $((mb * MiB)) \
        "ingest:$d:$i"
      left=$((left - mb))
      i=$((i + 1))
    done
    if ((nsmall > 0)); then
      srcs_small+=("$dir/small")
      bi_gen_small "$dir/small" "$d" "${small_n[$d]}"
    fi
    if ((dup_files > 0)); then
      srcs_dup+=("$dir/dup")
      mkdir -p "$dir/dup"
    fi
  done
  # File i of the duplicate set is on drive i % N; every tenth file has the
  # content of the file nine before it (another name, usually another
  # drive): 10% of the files and of the bytes are duplicates.
  for ((i = 0; i < dup_files; i++)); do
    local key="dup:$i"
    ((i % 10 == 9)) && key="dup:$((i - 9))"
    d=$((i % ndrives + 1))
    valise_gen_file "${drives[d - 1]}/dup/d$d-dup-$(printf '%04d' "$i").bin" \
      "$dup_file_bytes" "$key"
  done
  dup_dup_bytes=$((dup_files / 10 * dup_file_bytes))
  valise_log "data sets written in $(valise_since "$t0") s"

  sets=(big)
  ((nsmall > 0)) && sets+=(small)
  ((dup_files > 0)) && sets+=(dup)
  declare -gA set_files=() set_bytes=()
  local s n b
  for s in "${sets[@]}"; do
    local -n srcs_ref="srcs_$s"
    n=0
    b=0
    for dir in "${srcs_ref[@]}"; do
      read -r fn fb < <(bi_count "$dir")
      n=$((n + fn))
      b=$((b + fb))
    done
    set_files[$s]=$n
    set_bytes[$s]=$b
    unset -n srcs_ref
    valise_log "set $s: $n files, $b bytes"
  done

  # ---- manifests --------------------------------------------------------
  t0=$(valise_now)
  for s in "${sets[@]}"; do
    local -n srcs_ref="srcs_$s"
    "$VALISE" manifest --hash sha256,xxh128 --no-progress "${srcs_ref[@]}" \
      -o "$W/$s.valise" >/dev/null
    unset -n srcs_ref
  done
  # For sha256sum -c on DEST: names relative to a drive's set directory
  # are the names in DEST, since every tool merges the drives into it.
  : >"$W/big.sha256"
  for ((d = 0; d < ndrives; d++)); do
    "$VALISE" manifest --no-chunks --no-progress --format sha256sum \
      "${srcs_big[d]}" -o "$W/big-$d.sha256" >/dev/null
    cat "$W/big-$d.sha256" >>"$W/big.sha256"
  done
  valise_log "manifests written in $(valise_since "$t0") s"

  # fio jobs: read the large files where valise reads them (as in the
  # verify benchmark); write as many bytes to DEST, one job per drive,
  # files of the same size, durable at the end like valise's.
  {
    echo "[global]"
    echo "ioengine=io_uring"
    echo "direct=1"
    echo "bs=1M"
    echo "iodepth=16"
    echo "fixedbufs=1"
    echo "registerfiles=1"
    echo "rw=read"
    echo "group_reporting=1"
    echo "file_service_type=sequential"
    for ((d = 0; d < ndrives; d++)); do
      echo "[drive$d]"
      printf 'filename=%s\n' "$(find "${srcs_big[d]}" -type f | sort | paste -sd:)"
    done
  } >"$W/read.fio"
  {
    echo "[global]"
    echo "ioengine=io_uring"
    echo "direct=1"
    echo "bs=1M"
    echo "iodepth=16"
    echo "fixedbufs=1"
    echo "registerfiles=1"
    echo "rw=write"
    echo "end_fsync=1"
    echo "group_reporting=1"
    echo "file_service_type=sequential"
    for ((d = 0; d < ndrives; d++)); do
      local nf names=()
      nf=$(find "${srcs_big[d]}" -type f | wc -l)
      for ((i = 0; i < nf; i++)); do names+=("$OUT/fio-$d-$i.bin"); done
      echo "[dest$d]"
      # fio spreads size= evenly over the files of the job.
      echo "size=$(find "${srcs_big[d]}" -type f -printf '%s\n' |
        awk '{s += $1} END {printf "%.0f\n", s}')"
      printf 'filename=%s\n' "$(IFS=:; echo "${names[*]}")"
    done
  } >"$W/write.fio"

  # ---- the tools --------------------------------------------------------
  # Each function is one timed command. The peers end with `sync -f`
  # inside their timing: valise's files are durable when it exits
  # (fdatasync before each commit), and a copy still in the page cache is
  # not yet on storage.
  t_fio_read() {
    fio --output-format=terse --terse-version=3 "$W/read.fio" >"$W/fio-read.out"
  }
  t_fio_write() {
    fio --output-format=terse --terse-version=3 "$W/write.fio" >"$W/fio-write.out"
  }
  bi_valise_ingest() {
    local s=$1
    local -n srcs_ref="srcs_$s"
    "$VALISE" ingest -m "$W/$s.valise" -d "$OUT" --no-progress -q \
      --report "$W/report-$s.json" "${srcs_ref[@]}"
  }
  t_valise_big() { bi_valise_ingest big; }
  t_valise_small() { bi_valise_ingest small; }
  t_valise_dup() { bi_valise_ingest dup; }
  # rsync SRC1/ SRC2/ ... DEST/: the contents of every drive merged into
  # DEST, as valise does, in one command.
  bi_rsync() {
    local -n srcs_ref="srcs_$1"
    rsync -a "${srcs_ref[@]/%//}" "$OUT/" && sync -f "$OUT"
  }
  t_rsync_big() { bi_rsync big; }
  t_rsync_small() { bi_rsync small; }
  t_rsync_dup() { bi_rsync dup; }
  # cp -a SRC1/. SRC2/. DEST/, then the copy checked against the sums, as
  # an operator who wants a verified copy would do.
  t_cp_sha256sum() {
    cp -a "${srcs_big[@]/%//.}" "$OUT/" &&
      (cd "$OUT" && sha256sum -c --quiet "$W/big.sha256") &&
      sync -f "$OUT"
  }
  # rclone copies one tree at a time (4 transfers in parallel, its
  # default); --checksum: compare by hash, not size and time.
  t_rclone() {
    local src
    for src in "${srcs_big[@]}"; do
      rclone copy --checksum --config /dev/null -q "$src" "$OUT" || return 1
    done
    sync -f "$OUT"
  }

  declare -gA label=(
    [fio_read]="fio read: the same files, one job per drive (io_uring, O_DIRECT, bs=1M, QD 16, fixed bufs, reg. files)"
    [fio_write]="fio write to DEST: as many bytes, one job per drive (same options, end_fsync)"
    [valise_big]="valise ingest (sha256+xxh128 manifest)"
    [rsync_big]="rsync -a, all drives in one command, then sync"
    [cp_sha256sum]="cp -a, all drives in one command, then sha256sum -c on DEST, then sync"
    [rclone]="rclone copy --checksum, one drive after the other, then sync"
    [valise_small]="valise ingest"
    [rsync_small]="rsync -a, then sync"
    [valise_dup]="valise ingest (--dedup auto)"
    [rsync_dup]="rsync -a, then sync"
  )
  declare -gA tool_set=(
    [fio_read]=big [fio_write]=big [valise_big]=big [rsync_big]=big
    [cp_sha256sum]=big [rclone]=big
    [valise_small]=small [rsync_small]=small
    [valise_dup]=dup [rsync_dup]=dup
  )
  tools_big=(fio_read fio_write valise_big rsync_big cp_sha256sum rclone)
  tools_small=(valise_small rsync_small)
  tools_dup=(valise_dup rsync_dup)
  declare -gA times=() cpus=() busy=() failed=() vsecs=() vsaved=()
  declare -gA bi_verified=()

  # bi_check TOOL: after a timed run, the result checked (untimed). Prints
  # what is wrong; fails if anything is.
  bi_check() {
    local t=$1 s=${tool_set[$1]} got want kib
    case $t in
      fio_read)
        # Terse v3 field 6: KiB read. A short read would flatter fio.
        kib=$(awk -F';' '{s += $6} END {printf "%.0f\n", s}' "$W/fio-read.out")
        ((kib * 1024 == set_bytes[big])) ||
          { echo "fio read $kib KiB, expected $((set_bytes[big] / 1024))"; return 1; }
        return 0
        ;;
      fio_write)
        # Terse v3 field 47: KiB written.
        kib=$(awk -F';' '{s += $47} END {printf "%.0f\n", s}' "$W/fio-write.out")
        ((kib * 1024 >= set_bytes[big])) ||
          { echo "fio wrote $kib KiB, expected $((set_bytes[big] / 1024))"; return 1; }
        return 0
        ;;
      valise_*)
        local r=$W/report-$s.json code ok bytes
        [[ -s "$r" ]] || { echo "no report $r"; return 1; }
        code=$(bi_json_num "$r" exit_code)
        ok=$(bi_json_num "$r" files_ok)
        bytes=$(bi_json_num "$r" bytes_verified)
        [[ "$code" == 0 ]] || { echo "report: exit_code $code"; return 1; }
        [[ "$ok" == "${set_files[$s]}" ]] ||
          { echo "report: files_ok $ok, expected ${set_files[$s]}"; return 1; }
        [[ "$bytes" == "${set_bytes[$s]}" ]] ||
          { echo "report: bytes_verified $bytes, expected ${set_bytes[$s]}"; return 1; }
        ;;
    esac
    got=$(bi_count "$OUT")
    want="${set_files[$s]} ${set_bytes[$s]}"
    [[ "$got" == "$want" ]] ||
      { echo "DEST holds $got (files bytes), expected $want"; return 1; }
  }

  # bi_run TOOL RUN: empties DEST, drops the caches, times the tool, checks
  # its result, records wall and CPU seconds.
  bi_run() {
    local t=$1 r=$2 rc=0 wall user sys busy0
    rm -rf "$OUT"
    mkdir "$OUT"
    # Give the freed blocks back to the image (punches holes on the disk).
    fstrim "$DEST_MNT" 2>/dev/null || true
    valise_drop_caches
    bi_loads+=("$(bench_load)")
    local TIMEFORMAT='%R %U %S'
    busy0=$(bi_dest_busy_ms)
    { time "t_$t" >"$W/$t.log" 2>&1; } 2>"$W/$t.time" || rc=$?
    read -r wall user sys <"$W/$t.time"
    busy[$t]+="$(awk -v a="$busy0" -v b="$(bi_dest_busy_ms)" \
      'BEGIN{printf "%.2f", (b - a) / 1000}') "
    if ((rc != 0)); then
      failed[$t]+="${failed[$t]:+; }run $r: exit $rc"
      # What a valise run that stopped had done, and why it stopped (its
      # last line), from its report and log: a figure, not just "failed".
      local rep=$W/report-${tool_set[$t]}.json why
      if [[ "$t" == valise_* && -s "$rep" ]]; then
        why=$(grep '^valise: error: ' "$W/$t.log" | tail -n1 |
          sed "s|^valise: error: ||; s|$W/||g")
        failed[$t]+=" after staging $(bi_json_num "$rep" files_ok) of"
        failed[$t]+=" ${set_files[${tool_set[$t]}]} files in"
        failed[$t]+=" $(bi_json_num "$rep" seconds) s, $(bi_per_s \
          "$(bi_json_num "$rep" files_ok)" "$(bi_json_num "$rep" seconds)")"
        failed[$t]+=" files/s${why:+ (error: $why)}"
      fi
    elif ! bi_check "$t" >>"$W/$t.log" 2>&1; then
      failed[$t]+="${failed[$t]:+; }run $r: wrong result: $(tail -n1 "$W/$t.log")"
      rc=1
    fi
    if ((rc != 0)); then
      valise_log "run $r: $t FAILED (${failed[$t]}):"
      tail -n 20 "$W/$t.log" >&2
    fi
    times[$t]+="$wall "
    cpus[$t]+="$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u + s}') "
    if [[ "$t" == valise_* && -s "$W/report-${tool_set[$t]}.json" ]]; then
      vsecs[$t]+="$(bi_json_num "$W/report-${tool_set[$t]}.json" seconds) "
      vsaved[$t]=$(bi_json_num "$W/report-${tool_set[$t]}.json" dedup_bytes_saved)
    fi
    valise_log "run $r/$runs: $t ${wall}s (cpu $user+$sys s)"
    # The last run of valise (for the small files, possibly the first and
    # only one: checked every time): its copy checked again by valise
    # verify.
    if [[ "$t" == valise_* && ("$r" == "$runs" || "$t" == valise_small) &&
      $rc == 0 ]]; then
      local s=${tool_set[$t]}
      if "$VALISE" verify -m "$W/$s.valise" --no-progress -q \
        --report "$W/verify-dest-$s.json" "$OUT" >"$W/verify-dest-$s.log" 2>&1; then
        bi_verified[$s]=passed
      else
        bi_verified[$s]=FAILED
        failed[$t]+="${failed[$t]:+; }run $r: valise verify of DEST failed"
        cat "$W/verify-dest-$s.log" >&2
      fi
      if [[ -n "$reports_dir" ]]; then
        cp "$W/report-$s.json" "$reports_dir/ingest-$s.json"
        cp "$W/verify-dest-$s.json" "$reports_dir/verify-dest-$s.json"
      fi
    fi
  }

  bi_loads=()
  load_start=$(bench_load)
  if bench_busy "$load_start"; then
    valise_log "warning: load average $load_start on $cores cores:" \
      "other work will skew the figures"
  fi
  local r t t1
  # The small files get --small-budget seconds: a run of that set is
  # skipped when the runs so far, plus one more of the same length, would
  # exceed it (the first run always happens). A slow ingest of 100k small
  # files would otherwise take the whole run past 20 minutes; the rate is
  # per file, so one run of them already measures it.
  small_spent=0
  small_runs=0
  for ((r = 1; r <= runs; r++)); do
    for s in "${sets[@]}"; do
      if [[ "$s" == small ]] && ((small_runs > 0)) &&
        awk -v sp="$small_spent" -v n="$small_runs" -v b="$small_budget" \
          'BEGIN{exit !(sp + sp / n > b)}'; then
        valise_log "run $r/$runs: small files skipped (${small_spent}s spent" \
          "of the ${small_budget}s budget)"
        continue
      fi
      local -n tools_ref="tools_$s"
      t1=$(valise_now)
      for t in "${tools_ref[@]}"; do bi_run "$t" "$r"; done
      unset -n tools_ref
      if [[ "$s" == small ]]; then
        small_spent=$(awk -v a="$small_spent" -v b="$(valise_since "$t1")" \
          'BEGIN{printf "%.2f", a + b}')
        small_runs=$((small_runs + 1))
      fi
    done
  done

  # Where valise's time goes: its own bench of the same drives and DEST
  # (raw read per drive, digests per core, DEST write, whole pipeline).
  bench_out=""
  if awk -v s="$bench_seconds" 'BEGIN{exit !(s > 0)}'; then
    rm -rf "$OUT"
    mkdir "$OUT"
    valise_drop_caches
    if "$VALISE" bench "${srcs_big[@]}" -d "$OUT" -m "$W/big.valise" \
      --seconds "$bench_seconds" >"$W/bench.out" 2>"$W/bench.err"; then
      bench_out=$W/bench.out
    else
      valise_log "valise bench failed (not counted):"
      tail -n 20 "$W/bench.out" "$W/bench.err" >&2
    fi
  fi
  rm -rf "$OUT"
  load_end=$(bench_load)
  load_max=$(printf '%s\n' "${bi_loads[@]}" "$load_end" | sort -g | tail -n1)
  total_secs=$(valise_since "$t0_all")

  bi_write_section "$command_line" "$built_here"
  echo
  cat "$W/section.md"
  if $write_docs; then
    bench_write_doc "$doc" ingest "$W/section.md"
    valise_log "wrote $doc"
  fi
  valise_log "total $total_secs s"
  if ((${#failed[@]} > 0)); then exit 1; fi
  exit 0
}

# ---- the table ----------------------------------------------------------

bi_write_section() {
  local command_line=$1 built_here=$2 t s small_ceiling=""
  declare -gA bi_med=() medcpu=() medbusy=() rate=() brate=()
  for t in "${!times[@]}"; do
    bi_med[$t]=$(bench_median <<<"${times[$t]}")
    medcpu[$t]=$(bench_median <<<"${cpus[$t]}" | awk '{printf "%.2f", $1}')
    medbusy[$t]=$(bench_median <<<"${busy[$t]}" | awk '{printf "%.2f", $1}')
    brate[$t]=$(awk -v b="${set_bytes[${tool_set[$t]}]}" -v s="${bi_med[$t]}" \
      'BEGIN{printf "%.0f", (s > 0) ? b / s : 0}')
  done
  # ratio_row NAME A B TARGET [CEILING]: A's rate over B's, from rate[];
  # with CEILING, also the best ratio any tool could reach on this
  # machine: a number as it is, or (any word) the limit's bytes/s over B's
  # bytes/s.
  ratio_row() {
    local name=$1 a=$2 b=$3 target=$4 ceil=""
    if [[ -n "${failed[$a]:-}" || -n "${failed[$b]:-}" ||
      -z "${rate[$a]:-}" || -z "${rate[$b]:-}" ]]; then
      printf '| %s | n/a (a tool failed or did not run) | >= %s | | |\n' "$name" "$target"
      return
    fi
    if [[ "${5:-}" =~ ^[0-9.]+$ ]]; then
      ceil=$5
    elif [[ -n "${5:-}" && -n "${brate[limit]:-}" && -n "${brate[$b]:-}" ]]; then
      ceil=$(awk -v l="${brate[limit]}" -v p="${brate[$b]}" \
        'BEGIN{if (p > 0) printf "%.2f", l / p}')
    fi
    awk -v n="$name" -v x="${rate[$a]}" -v y="${rate[$b]}" -v t="$target" \
      -v c="$ceil" 'BEGIN{ r = (y > 0) ? x / y : 0;
        printf "| %s | %.2f | >= %s | %s | %s |\n", n, r, t,
          (r >= t) ? "yes" : "NO", c }'
  }
  cell() {  # cell TOOL VALUE: the value, or the failure
    if [[ -n "${failed[$1]:-}" ]]; then printf 'failed (%s)' "${failed[$1]}"; else printf '%s' "$2"; fi
  }
  local drives_desc dest_desc
  if [[ "$drives_on" == disk ]]; then
    drives_desc="$ndrives ext4 loop drives over image files on $disk_src ($disk_fstype, the disk; loop direct I/O ${bi_dio[d1]})"
  else
    drives_desc="$ndrives ext4 loop drives over image files in /dev/shm (memory speed, as in the verify benchmark)"
  fi
  dest_desc="$dest_fs on a loop device over an image file on $disk_src ($disk_fstype: the VM's disk, not /dev/shm; loop direct I/O ${bi_dio[dest]})"

  {
    echo "### ingest ($(date -u +%Y-%m-%d))"
    echo
    echo "Command: \`$command_line\`"
    echo
    echo "Machine: $(bench_machine); $(bench_valise_version "$built_here")." \
      "Load average (1 min): $load_start at start, $load_end at end," \
      "at most $load_max before a command. Whole run: ${total_secs} s."
    echo
    echo "Drives: $drives_desc. DEST: $dest_desc." \
      "Before every command DEST is emptied and trimmed and the page cache" \
      "dropped; every timed command ends with its data durable on DEST" \
      "(valise makes each group of files durable (syncfs or fdatasync) before it names them; the peers are followed by" \
      "\`sync -f DEST\`, inside their time). Tools alternate within each of" \
      "the $runs runs; medians. GB/s and files/s: the set's bytes or files" \
      "/ wall seconds; CPU: user+sys seconds of the command and its children."
    if bench_busy "$load_max"; then
      echo
      echo "**The machine was busy (load average up to $load_max on $cores" \
        "cores): other work skews these figures; rerun on an idle machine.**"
    fi

    s=big
    echo
    echo "#### Large files: ${set_bytes[big]} bytes in ${set_files[big]} files (of up to 128 MiB) on $ndrives drives"
    echo
    echo "| tool | median GB/s | median CPU s | wall seconds per run |"
    echo "|---|---:|---:|---|"
    for t in "${tools_big[@]}"; do
      rate[$t]=$(bi_gbps "${set_bytes[big]}" "${bi_med[$t]}")
      printf '| %s | %s | %s | %s|\n' "${label[$t]}" "$(cell "$t" "${rate[$t]}")" \
        "${medcpu[$t]}" "${times[$t]}"
      if [[ "$t" == valise_big && -n "${vsecs[$t]:-}" ]]; then
        printf '| valise ingest, by its own --report (bytes_verified / seconds) | %s | | %s|\n' \
          "$(cell "$t" "$(bi_gbps "${set_bytes[big]}" "$(bench_median <<<"${vsecs[$t]}")")")" \
          "${vsecs[$t]}"
      fi
    done
    # The limit: the slower of reading the drives and writing DEST.
    if [[ -z "${failed[fio_read]:-}" && -z "${failed[fio_write]:-}" ]]; then
      rate[limit]=$(awk -v a="${rate[fio_read]}" -v b="${rate[fio_write]}" \
        'BEGIN{printf "%.3f", (a < b) ? a : b}')
      brate[limit]=$(awk -v r="${rate[limit]}" 'BEGIN{printf "%.0f", r * 1e9}')
      printf '| limit: min(fio read, fio write) | %s | | |\n' "${rate[limit]}"
    else
      failed[limit]="a fio run failed"
    fi

    if [[ " ${sets[*]} " == *" small "* ]]; then
      echo
      echo "#### Small files: ${set_files[small]} files of 4-64 KiB (${set_bytes[small]} bytes) on $ndrives drives"
      echo
      if ((small_runs < runs)); then
        echo "Measured in $small_runs of the $runs runs: the others were" \
          "skipped to keep within --small-budget ${small_budget} s (they had" \
          "taken ${small_spent} s)."
        echo
      fi
      echo "| tool | median files/s | median MB/s | median CPU s | median DEST busy s | wall seconds per run |"
      echo "|---|---:|---:|---:|---:|---|"
      for t in "${tools_small[@]}"; do
        rate[$t]=$(bi_per_s "${set_files[small]}" "${bi_med[$t]}")
        printf '| %s | %s | %s | %s | %s | %s|\n' "${label[$t]}" "$(cell "$t" "${rate[$t]}")" \
          "$(cell "$t" "$(bi_per_s "$((set_bytes[small] / 1000000))" "${bi_med[$t]}")" |
            sed 's/^failed .*/(failed)/')" \
          "${medcpu[$t]}" "${medbusy[$t]}" "${times[$t]}"
      done
      # The small files' ceiling against rsync: rsync's time over the least
      # time DEST's device was busy landing the set (either tool): no tool
      # lands it faster than the device absorbs it.
      small_ceiling=$(awk -v w="${bi_med[rsync_small]:-0}" \
        -v a="${medbusy[valise_small]:-0}" -v b="${medbusy[rsync_small]:-0}" \
        'BEGIN{m = (a > 0 && (b <= 0 || a < b)) ? a : b;
          if (m > 0 && w > 0) printf "%.2f", w / m}')
    fi

    if [[ " ${sets[*]} " == *" dup "* ]]; then
      echo
      echo "#### 10% duplicate content: ${set_files[dup]} files of $dup_file_bytes bytes (${set_bytes[dup]} bytes) on $ndrives drives, every tenth a copy of another under another name ($dup_dup_bytes bytes duplicate)"
      echo
      echo "| tool | median GB/s | median CPU s | wall seconds per run |"
      echo "|---|---:|---:|---|"
      for t in "${tools_dup[@]}"; do
        rate[$t]=$(bi_gbps "${set_bytes[dup]}" "${bi_med[$t]}")
        printf '| %s | %s | %s | %s|\n' "${label[$t]}" "$(cell "$t" "${rate[$t]}")" \
          "${medcpu[$t]}" "${times[$t]}"
      done
      echo
      echo "valise's report, last run: dedup_bytes_saved ${vsaved[valise_dup]:-?}" \
        "of the $dup_dup_bytes duplicate bytes (DEST $dest_fs: \`--dedup auto\`" \
        "clones on xfs and btrfs, copies on ext4)."
    fi

    echo
    echo "| ratio | value | target | met | ceiling here: limit / peer (bytes/s) |"
    echo "|---|---:|---|---|---:|"
    ratio_row "valise / min(fio read, fio write), large files" valise_big limit 0.85
    ratio_row "valise / rsync -a, large files" valise_big rsync_big 3 c
    ratio_row "valise / cp -a + sha256sum -c, large files" valise_big cp_sha256sum 3 c
    ratio_row "valise / rclone copy --checksum, large files" valise_big rclone 3 c
    [[ " ${sets[*]} " == *" small "* ]] &&
      ratio_row "valise / rsync -a, small files (files/s)" valise_small rsync_small 3 "${small_ceiling:-}"
    [[ " ${sets[*]} " == *" dup "* ]] &&
      ratio_row "valise / rsync -a, 10% duplicates" valise_dup rsync_dup 3 c
    echo
    echo "The ceiling is the most any tool could reach against that peer" \
      "here: the large-file limit, min(fio read, fio write), over the" \
      "peer's bytes/s; for the small files, rsync's time over the least" \
      "time DEST's device was busy (io_ticks) while valise or rsync landed" \
      "the set (an estimate: no tool lands the files faster than the device" \
      "takes them). Where it is under the target, the target cannot be" \
      "met on this machine by any tool, only approached."
    echo
    echo "Each valise copy of the last run checked again with \`valise verify" \
      "-m M DEST\`: $(for s in "${sets[@]}"; do
        printf '%s %s; ' "$s" "${bi_verified[$s]:-not run}"; done | sed 's/; $//')."
    if [[ -n "$bench_out" ]]; then
      echo
      echo "Where the time goes: \`valise bench\` of the large-file drives" \
        "with the same DEST (\`--seconds $bench_seconds\`), after the runs:"
      echo
      sed 's/^/    /' "$bench_out"
    fi
  } >"$W/section.md"
}
