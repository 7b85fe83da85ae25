# shellcheck shell=bash
# Helpers for the end-to-end tests against a real Ceph cluster (S3
# through RGW, and CephFS), on top of lib.sh (source it first). The
# cluster is tests/support/ceph_lib.sh's.
#
#   need_ceph_tools  exit 77 (skipped) with the reason unless root and the
#                    Ceph packages are there
#   need_ceph        need_ceph_tools, then uses the cluster of the
#                    ctest fixture (VALISE_CEPH_DIR, tests_ceph.cmake), or,
#                    run by hand, starts one under $VALISE_WORK that the
#                    EXIT trap stops. Sources its s3.env (AWS_*, CEPH_CONF,
#                    S3CMD_CONFIG, RCLONE_CONFIG).
#   new_bucket NAME  makes a bucket of a name unique to this run (tests
#                    share one cluster), named in BUCKET[NAME]
#   s3 ARGS...       Debian's awscli against the cluster: s3 s3api ...
#   expect_s3 CODE CMD...   expect_exit for CMD a shell function (s3,
#                    s3_curl: `timeout` cannot run those; they bound their
#                    own time)
#   s3_absent BUCKET/KEY    fails unless HEAD of the key is a 404
#   s3_head BUCKET/KEY      HEAD (curl): the headers in $LAST_OUT
#   s3_get BUCKET/KEY FILE  GET (curl) into FILE; fails unless 200
#   s3_expect_error CODE CMD...   CMD (an `s3 ...` or `s3_curl ...`) must
#                    fail with the S3 error CODE (e.g. BadDigest); the
#                    reply is in $LAST_ALL
#   s3_curl METHOD BUCKET/KEY [CURL ARGS...]   one request signed with
#                    SigV4 by curl (for what awscli cannot send: a
#                    payload hash that does not match, If-None-Match);
#                    the payload hash is that of --upload-file FILE or
#                    --data-binary @FILE unless an x-amz-content-sha256
#                    header is given; prints the body then the HTTP status.
#                    A query parameter without a value must be written
#                    with its "=" (?uploads=): curl 7.88 signs "?uploads"
#                    without it, and the signature does not match.
#   sha256_hex FILE / md5_b64 FILE / sha256_b64 FILE
#   cephfs_mount NAME   a ceph-fuse mount of the cluster's CephFS (added to
#                    the cluster if need be) on $VALISE_WORK/cephfs-NAME,
#                    in CEPHFS[NAME]; unmounted by the EXIT trap

# shellcheck disable=SC2034  # read by the scripts that source this file
declare -gA BUCKET=() CEPHFS=()
# shellcheck source=../support/ceph_lib.sh
source "$E2E_REPO/tests/support/ceph_lib.sh"

# Debian's awscli (2.9 in Debian 12) is what CI installs: prefer it to
# another `aws` earlier on PATH (pip, pyenv), whose behaviour differs.
S3_AWS=${VALISE_AWS:-$(command -v /usr/bin/aws || echo aws)}

# What the tests need beyond the cluster's own tools.
_s3_tools_missing() {
  local t missing=()
  for t in "$S3_AWS" s3cmd rclone openssl; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  printf '%s\n' "$(ceph_cluster_missing_tools) ${missing[*]}" | xargs
}

need_ceph_tools() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "[$TEST_NAME] SKIP: needs root (it runs Ceph daemons)"
    exit 77
  fi
  local missing
  missing=$(_s3_tools_missing)
  if [[ -n "$missing" ]]; then
    echo "[$TEST_NAME] SKIP: not installed: $missing (the VALISE_CEPH_DEPS" \
      "of scripts/lib/deps.sh)"
    exit 77
  fi
}

need_ceph() {
  need_ceph_tools
  local dir=${VALISE_CEPH_DIR:-}
  if [[ -n "$dir" ]]; then
    ceph_cluster_running "$dir" ||
      fail "the ctest fixture's cluster in $dir is not running (see the" \
        "output of the test ceph_cluster_start)"
    log "using the fixture's cluster in $dir"
  else
    dir="$VALISE_WORK/ceph"
    valise_on_cleanup "ceph_cluster_stop '$dir'"
    ceph_cluster_start "$dir" || fail "could not start a Ceph cluster"
  fi
  # shellcheck disable=SC1091
  source "$dir/s3.env"
}

new_bucket() {
  local name=$1 b
  b=$(printf '%s-%s-%s' "$TEST_NAME" "$name" "$(_ceph_random 'a-z0-9' 8)" |
    tr 'A-Z_' 'a-z-' | cut -c1-63)
  s3 s3api create-bucket --bucket "$b" >/dev/null ||
    fail "cannot create bucket $b"
  BUCKET[$name]=$b
}

s3() {
  "$S3_AWS" --endpoint-url "$AWS_ENDPOINT_URL" --cli-connect-timeout 10 \
    --cli-read-timeout 60 "$@"
}

expect_s3() {
  local want=$1 got=0
  shift
  "$@" >"$LAST_OUT" 2>"$LAST_ERR" </dev/null || got=$?
  cat "$LAST_OUT" "$LAST_ERR" >"$LAST_ALL"
  if [[ "$got" != "$want" ]]; then
    {
      echo "[$TEST_NAME] FAIL: expected exit $want, got $got"
      echo "command: $(printf '%q ' "$@")"
      _show_file stdout "$LAST_OUT"
      _show_file stderr "$LAST_ERR"
    } >&2
    exit 1
  fi
  log "exit $got as expected: $(printf '%q ' "$@" | head -c 300)"
}

s3_head() {
  expect_s3 0 s3_curl HEAD "$1"
  assert_contains "$LAST_OUT" "HTTP 200"
}

s3_get() {
  expect_s3 0 s3_curl GET "$1" -o "$2"
  assert_contains "$LAST_OUT" "HTTP 200"
}

s3_absent() {
  expect_s3 0 s3_curl HEAD "$1"
  assert_contains "$LAST_OUT" "HTTP 404"
}

sha256_hex() { sha256sum "$1" | cut -d' ' -f1; }
md5_b64() { openssl dgst -md5 -binary "$1" | base64; }
sha256_b64() { openssl dgst -sha256 -binary "$1" | base64; }

s3_curl() {
  local method=$1 path=$2 arg file="" hash="" i
  shift 2
  local args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    arg=${args[i]}
    case $arg in
      --upload-file | -T) file=${args[i + 1]} ;;
      --data-binary) [[ ${args[i + 1]} == @* ]] && file=${args[i + 1]#@} ;;
      x-amz-content-sha256:* | X-Amz-Content-Sha256:*) hash=given ;;
    esac
  done
  local extra=()
  if [[ -z "$hash" ]]; then
    if [[ -n "$file" ]]; then
      extra=(-H "x-amz-content-sha256: $(sha256_hex "$file")")
    else
      extra=(-H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)")
    fi
  fi
  # The S3 error of a failed request is in the body: print it, then the
  # status, and let the caller judge (curl exits 0 on an HTTP error).
  local how=(-X "$method")
  # HEAD has no body: curl must not wait for one.
  [[ "$method" == HEAD ]] && how=(--head)
  curl -sS "${how[@]}" --max-time 120 --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "${extra[@]}" \
    "${args[@]}" -w '\nHTTP %{http_code}\n' "$AWS_ENDPOINT_URL/$path"
}

# The <Code> of the S3 error reply in FILE (the body curl printed, or the
# "Response body" awscli's --debug logged), empty if there is none.
_s3_error_code() {
  { LC_ALL=C grep -ao '<Code>[A-Za-z0-9]*</Code>' "$1" || true; } |
    head -n1 | sed 's/<[^>]*>//g'
}

# awscli 2.9.19 cannot print RGW's errors: RGW 16 sends an empty
# <Message/>, on which awscli's error decoration fails with "argument of
# type 'NoneType' is not iterable". So the code is read from the reply
# itself: --debug logs it.
s3_expect_error() {
  local want=$1 got rc=0
  shift
  if [[ "$1" == s3 ]]; then
    "$@" --debug >"$LAST_OUT" 2>"$LAST_ERR" </dev/null || rc=$?
  else
    "$@" >"$LAST_OUT" 2>"$LAST_ERR" </dev/null || rc=$?
  fi
  cat "$LAST_OUT" "$LAST_ERR" >"$LAST_ALL"
  got=$(_s3_error_code "$LAST_ALL")
  if [[ "$got" != "$want" ]]; then
    {
      echo "[$TEST_NAME] FAIL: expected S3 error $want, got '${got:-none}'" \
        "(exit $rc)"
      echo "command: $(printf '%q ' "$@")"
      grep -a -E 'HTTP [0-9]|Response body|<Error>|Error' "$LAST_ALL" |
        head -n 20
    } >&2
    exit 1
  fi
  log "refused with $want as expected: $(printf '%q ' "${@:1:4}")..."
}

cephfs_mount() {
  local name=$1 mnt="$VALISE_WORK/cephfs-$1"
  valise_on_cleanup "ceph_cluster_umount '$VALISE_CEPH_DIR' '$mnt'"
  ceph_cluster_mount "$VALISE_CEPH_DIR" "$mnt" ||
    fail "cannot mount CephFS on $mnt"
  CEPHFS[$name]=$mnt
  log "CephFS mounted on $mnt"
}

# make_bridge NAME: a bridge NAME at .1 of a /24 that nobody here uses yet
# (several test runs may do this at once); sets BR and net (the /24's
# first three octets). Deleted at exit.
make_bridge() {
  local i
  for ((i = 0; i < 50; i++)); do
    net=10.$((200 + (RANDOM % 50))).$((RANDOM % 250))
    ip -4 addr | grep -q " $net\." || break
  done
  BR=$1
  valise_on_cleanup "ip link del $BR"
  ip link add "$BR" type bridge
  ip addr add "$net.1/24" dev "$BR"
  ip link set "$BR" up
}

# add_host NS SIDE N: a network namespace NS (a host) whose eth0 is
# $net.N on bridge $BR, through a veth whose other end, SIDE, is on the
# bridge (make_bridge first). Both deleted at exit.
add_host() {
  local ns=$1 side=$2 n=$3
  valise_on_cleanup "ip netns del $ns"
  valise_on_cleanup "ip link del $side"
  ip netns add "$ns"
  ip link add "$side" type veth peer name eth0 netns "$ns"
  ip link set "$side" master "$BR" up
  ip -n "$ns" addr add "$net.$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}
