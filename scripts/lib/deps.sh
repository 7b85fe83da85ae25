# shellcheck shell=bash
# Debian packages valise needs to build, test, demo and benchmark, and the
# one function that makes sure they are installed. Sourced by scripts/test,
# scripts/demo and scripts/bench-peers.
#
#   valise_ensure_deps [LIST...]   returns when every package of the named
#                        arrays (default: VALISE_DEPS) is installed; as root
#                        it installs what is missing (one apt-get update,
#                        then one apt-get install); otherwise it names what
#                        is missing, shows the command to install it, and
#                        exits 2. scripts/test asks for VALISE_DEPS and
#                        VALISE_CEPH_DEPS.

VALISE_DEPS=(
  build-essential cmake pkg-config
  liburing-dev libxxhash-dev libssl-dev libcli11-dev libgtest-dev
  libbenchmark-dev nlohmann-json3-dev libfmt-dev libfuse3-dev fuse3
  libisal-dev
  libicu-dev  # Unicode normalization and case folding of bag file names
  libcurl4-openssl-dev libexpat1-dev  # the S3 client (src/net/)
  libblkid-dev  # a drive's file system UUID and label (M.drives)
  libudev-dev  # valise watch: block devices as they are plugged in
  clang clang-format
  xfsprogs btrfs-progs e2fsprogs util-linux
  fio hashdeep xxhash rsync rclone openssl
  python3  # scripts/bench-peers: the harness in bench/peers (standard library)
  dpkg-dev man-db groff-base bsdextrautils  # pkg: cpack DEB, man -l, col
  fish  # pkg: the fish completion is loaded and run (packaging_install)
  libxml2-utils  # xmllint: the HTML report test checks well-formedness
  strace time  # tests/cli: no drive read before a signature check; peak RSS
)

# Only for scripts/bench-peers: the peers it compares with that nothing else
# needs.
VALISE_BENCH_DEPS=(
  par2  # pack: par2 create of the same data, for comparison
)

# The real Ceph cluster of the S3 and CephFS tests (tests/support/
# ceph_cluster.sh: monitor, OSD, RGW, MDS, ceph-fuse; `ceph`, `rados` and
# radosgw-admin from ceph-common) and the S3 clients the tests and
# scripts/bench-peers compare against. About 70 MB; kept apart so that a
# build alone does not need them.
VALISE_CEPH_DEPS=(
  ceph-mon ceph-osd ceph-mds ceph-fuse radosgw ceph-common
  awscli s3cmd rclone
  curl iproute2  # SigV4 requests awscli cannot make; ss: free ports
)

# Prints the packages of "$@" that dpkg does not list as installed.
valise_missing_packages() {
  local pkg status
  for pkg in "$@"; do
    # dpkg-query exits 1 for a package it has never heard of; the Status
    # field is "install ok installed" only when the package is unpacked and
    # configured (not merely selected, half-installed or removed).
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

valise_ensure_deps() {
  local lists=("$@") list wanted=()
  ((${#lists[@]})) || lists=(VALISE_DEPS)
  for list in "${lists[@]}"; do
    local -n _pkgs=$list
    wanted+=("${_pkgs[@]}")
    unset -n _pkgs
  done
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: dpkg-query not found: not a Debian system; install the" \
      "equivalents of: ${wanted[*]}" >&2
    return 0
  fi
  local missing
  mapfile -t missing < <(valise_missing_packages "${wanted[@]}")
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y" \
      "--no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
  echo "deps: installing ${missing[*]}" >&2
  # Non-interactive: no debconf prompts can stall an unattended CI run.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  mapfile -t missing < <(valise_missing_packages "${missing[@]}")
  if ((${#missing[@]} != 0)); then
    echo "deps: still missing after apt-get install: ${missing[*]}" >&2
    exit 2
  fi
}
