# shellcheck shell=bash
# A real single-host Ceph cluster for the tests: one monitor, one BlueStore
# OSD on a sparse file, one RGW (beast frontend) with an S3 user, and on
# request an MDS, a CephFS file system and ceph-fuse mounts. cephx is on;
# there is no mgr and no systemd. Everything lives in one directory the
# caller names (the cluster directory); nothing is written to /etc/ceph,
# /var/lib/ceph or /var/run/ceph.
#
# Sourced by tests/support/ceph_cluster.sh (the command line) and by the
# S3 end-to-end tests (through tests/e2e/s3_lib.sh).
#
#   ceph_cluster_start DIR [--addr IP] [--cephfs MNT] [--osd-size SIZE]
#                      [--no-rgw]
#       DIR must not exist or be empty. Binds every daemon to IP (default
#       127.0.0.1; a bridge address lets network namespaces reach it), on
#       ports found free at start. Writes DIR/s3.env (source it), and the
#       client configurations it names. With --cephfs, also an MDS, the
#       file system "cephfs" and a ceph-fuse mount on MNT. With --no-rgw,
#       no RGW and no S3 user (a CephFS-only test: ~10 s and 1.5 CPU-s
#       less); s3.env then sets only CEPH_CONF and VALISE_CEPH_DIR, and
#       the start returns before the OSD is up (CephFS waits for it). On failure,
#       prints the daemons' log tails, stops what it started and returns 1.
#   ceph_cluster_stop DIR
#       Unmounts this cluster's ceph-fuse mounts, kills this cluster's
#       daemons by the PIDs it recorded (KILL: the data goes anyway), and
#       removes DIR. Idempotent: a DIR that is gone is a success. Refuses
#       (returns 2) a non-empty DIR that is not a cluster directory.
#   ceph_cluster_cephfs DIR         adds CephFS to a running cluster (an
#                                   MDS, the file system "cephfs");
#                                   idempotent
#   ceph_cluster_mount DIR MNT      a ceph-fuse mount of the file system
#                                   on MNT (adds CephFS first if need be)
#   ceph_cluster_umount DIR MNT     unmounts it and ends its ceph-fuse
#   ceph_cluster_env DIR            prints the path of DIR/s3.env
#   ceph_cluster_running DIR        true if every recorded daemon is alive
#   ceph_cluster_rgw_kill DIR       KILLs RGW (a crash, for the tests)
#   ceph_cluster_rgw_start DIR      starts it again on the same port
#   ceph_cluster_missing_tools      prints the commands a cluster needs
#                                   that are not installed (empty if none)
#
# What a cluster directory holds:
#   ceph.conf, keyring        the configuration and every entity's key
#   mon/ osd/ mds/ rgw/       the daemons' data (osd/block: sparse file)
#   log/                      one log per daemon, and the start's own log
#   pids                      "NAME PID" per daemon started (for stop)
#   mounts                    "MNT PID NAME" per ceph-fuse mount
#   state                     fsid, addresses, ports, run dir, timings
#   s3.env                    AWS_*, CEPH_CONF, RCLONE_CONFIG, S3CMD_CONFIG
#   aws/config, s3cfg, rclone.conf   client configurations (the S3 user)
# Admin sockets go in a run directory under /tmp (mktemp; a socket path
# must fit in 107 bytes), recorded in `state` and removed by stop.
#
# Start time and memory (2 cores shared, Ceph 16.2.15): see docs/s3.md,
# "The test cluster".
#
# Several clusters may run on one machine at once (one per test run or
# engineer): ports are picked at random among those free at start, and
# retried if another process takes one first; stop only ever signals a
# PID it recorded whose command line still names this DIR's ceph.conf.

# Seconds to wait for each step of the start (monitor quorum, OSD up,
# RGW answering, MDS active, mount) before giving up.
: "${CEPH_CLUSTER_STEP_TIMEOUT:=90}"

ceph_cluster_missing_tools() {
  local t missing=()
  for t in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool \
    monmaptool rados ceph-mds ceph-fuse curl ss setsid numfmt; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  printf '%s\n' "${missing[*]}"
}

_ceph_log() { printf 'ceph_cluster: %s\n' "$*" >&2; }

# A random TCP port in 10000..29999 that nothing listens on now (above
# the OSDs' 6800-7300, below the kernel's ephemeral range 32768+). The
# daemon's bind is the real test: callers retry with another on failure.
_ceph_free_port() {
  local port i used
  used=$(ss -Htln 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}')
  for ((i = 0; i < 100; i++)); do
    port=$((10000 + (RANDOM * 32768 + RANDOM) % 20000))
    if ! grep -qx "$port" <<<"$used"; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Random [A-Z0-9]{20} (an S3 access key) or [A-Za-z0-9]{40} (a secret).
_ceph_random() {
  local set=$1 n=$2 out=""
  while ((${#out} < n)); do
    out+=$(head -c 256 /dev/urandom | LC_ALL=C tr -dc "$set")
  done
  printf '%s\n' "${out:0:n}"
}

_ceph_state_get() {
  [[ -f "$1/state" ]] || return 1
  sed -n "s/^$2=//p" "$1/state" | tail -n1
}
_ceph_state_set() { printf '%s=%s\n' "$2" "$3" >>"$1/state"; }

# Runs a ceph tool against the cluster in DIR with its admin key.
_ceph() {
  local dir=$1
  shift
  ceph -c "$dir/ceph.conf" --connect-timeout 30 "$@"
}

# _ceph_spawn DIR NAME CMD...: starts a daemon in the foreground of its
# own session (so ctest's or a terminal's signals do not reach it, and it
# outlives the start), output in DIR/log/NAME.out, and records its PID.
_ceph_spawn() {
  local dir=$1 name=$2 pid
  shift 2
  # setsid without job control does not fork: $! is the daemon itself.
  # The lock ceph_cluster_cephfs may hold is not passed on (a daemon
  # holding it would hold it for ever).
  if [[ -n "${_ceph_lock_fd:-}" ]]; then
    setsid "$@" </dev/null >"$dir/log/$name.out" 2>&1 {_ceph_lock_fd}>&- &
  else
    setsid "$@" </dev/null >"$dir/log/$name.out" 2>&1 &
  fi
  pid=$!
  # Until the child has exec'd, its command line is this shell's, and
  # _ceph_dead would call it dead: wait (a moment) for the exec, or exit.
  local tries=0
  while ((tries++ < 250)) && kill -0 "$pid" 2>/dev/null &&
    ! _ceph_is_ours "$dir" "$pid"; do
    sleep 0.02
  done
  printf '%s %s\n' "$name" "$pid" >>"$dir/pids"
  _ceph_log "started $name (pid $pid)"
}

_ceph_pid_of() { awk -v n="$2" '$1 == n {p = $2} END {print p}' "$1/pids"; }

# True if PID is alive and is one of DIR's processes (one of its
# arguments is DIR's ceph.conf), not some later process that reused the
# number, nor another cluster's.
_ceph_is_ours() {
  local dir=$1 pid=$2 arg args=()
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
  for arg in "${args[@]}"; do
    [[ "$arg" == "$dir/ceph.conf" ]] && return 0
  done
  return 1
}

# _ceph_dead DIR: names the first recorded daemon of DIR that has exited.
_ceph_dead() {
  local name pid
  while read -r name pid; do
    [[ "$name" == tool.* ]] && continue
    if ! _ceph_is_ours "$1" "$pid"; then
      printf '%s (pid %s)\n' "$name" "$pid"
      return 0
    fi
  done <"$1/pids"
  return 1
}

# _ceph_wait DIR WHAT CMD...: runs CMD every 0.2 s until it succeeds (0),
# a daemon of DIR dies (1) or the step timeout passes (1).
_ceph_wait() {
  local dir=$1 what=$2 dead deadline
  shift 2
  deadline=$((SECONDS + CEPH_CLUSTER_STEP_TIMEOUT))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if dead=$(_ceph_dead "$dir"); then
      _ceph_log "$dead exited while waiting for $what"
      return 1
    fi
    sleep 0.2
  done
  _ceph_log "timed out after ${CEPH_CLUSTER_STEP_TIMEOUT}s waiting for $what"
  return 1
}

# Writes DIR/ceph.conf whole at once (a rename), so that no daemon that
# reads it while it is rewritten sees half of it.
_ceph_write_conf() {
  local dir=$1 addr=$2 mon_port=$3 fsid=$4 run=$5 osd_size=$6
  cat >"$dir/ceph.conf.new" <<EOF
# Written by tests/support/ceph_lib.sh: a throwaway test cluster.
[global]
fsid = $fsid
mon host = [v2:$addr:$mon_port]
public addr = $addr
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/keyring
run dir = $run
admin socket = $run/\$name.asok
pid file = $run/\$name.pid
log file = $dir/log/\$name.log
crash dir = $dir/crash
log to stderr = false
err to stderr = true
mon cluster log file = $dir/log/cluster.log
# RocksDB's default (4) logs every option of every column family at each
# open: a second of the OSD's start on a busy machine.
debug rocksdb = 1/5
# One OSD: no replicas, placement groups on that one host.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool delete = true
# Fast start: commit monitor map changes at once rather than batching them
# for a second (the OSD's boot and each pool RGW creates are one commit).
paxos propose interval = 0.01
paxos min wait = 0.001
mon osd auto mark new in = true

[mon]
mon data = $dir/mon/\$name
mon data avail warn = 2
mon data avail crit = 1

[osd]
osd data = $dir/osd/\$name
osd objectstore = bluestore
bluestore block size = $osd_size
bluestore block create = true
bluestore fsck on mkfs = false
# The cache grows to this and no further (the default is 4 GiB).
osd memory target = 1073741824

[mds]
mds data = $dir/mds/\$name

[client.rgw]
rgw data = $dir/rgw
rgw dns name = localhost
# Fewer housekeeping objects made at first start (defaults 32 and 8).
rgw gc max objs = 4
rgw lc max objs = 4
rgw num control oids = 2
rgw thread pool size = 64
EOF
  mv -f "$dir/ceph.conf.new" "$dir/ceph.conf"
}

# Every entity's key, with its capabilities, in one keyring: the monitor's
# --mkfs imports them all, so no `ceph auth` round trip is needed later.
# One secret for all (a throwaway cluster; cephx still holds each entity to
# its capabilities): one ceph-authtool run, where a key each would take
# five (a second on a busy machine).
_ceph_make_keyring() {
  local key
  key=$(ceph-authtool --gen-print-key) || return 1
  cat >"$1/keyring" <<EOF
[mon.]
	key = $key
	caps mon = "allow *"
[client.admin]
	key = $key
	caps mon = "allow *"
	caps osd = "allow *"
	caps mds = "allow *"
	caps mgr = "allow *"
[osd.0]
	key = $key
	caps mon = "allow profile osd"
	caps osd = "allow *"
	caps mgr = "allow profile osd"
[client.rgw]
	key = $key
	caps mon = "allow rw"
	caps osd = "allow rwx"
	caps mgr = "allow rw"
[mds.a]
	key = $key
	caps mon = "allow profile mds"
	caps osd = "allow rwx"
	caps mds = "allow *"
	caps mgr = "allow profile mds"
EOF
  chmod 600 "$1/keyring"
}

# _ceph_forget DIR NAME: drops NAME's line from DIR/pids (a daemon or tool
# that exited and is not to be waited for or stopped any more).
_ceph_forget() {
  awk -v n="$2" '$1 != n' "$1/pids" >"$1/pids.new" && mv "$1/pids.new" "$1/pids"
}

_ceph_in_log() { grep -qF -- "$2" "$1" 2>/dev/null; }

# The monitor on PORT (retried on another if its bind fails), with its map
# made by monmaptool and every key imported at --mkfs.
_ceph_start_mon() {
  local dir=$1 addr=$2 fsid=$3 size=$4 run=$5 port=$6 try
  for try in 1 2 3; do
    if ((try > 1)); then
      port=$(_ceph_free_port) || return 1
      _ceph_write_conf "$dir" "$addr" "$port" "$fsid" "$run" "$size"
    fi
    rm -rf "$dir/mon" "$dir/monmap"
    mkdir -p "$dir/mon/mon.a"
    monmaptool --create --fsid "$fsid" --addv a "[v2:$addr:$port]" \
      "$dir/monmap" >>"$dir/log/start.log" 2>&1 || return 1
    ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" \
      --keyring "$dir/keyring" >>"$dir/log/start.log" 2>&1 || return 1
    _ceph_spawn "$dir" mon.a ceph-mon -f -c "$dir/ceph.conf" -i a
    # In quorum (of one) when it logs so: reading its log costs nothing,
    # where each `ceph` command is a Python start (~0.3 s, more when busy).
    if _ceph_wait "$dir" "the monitor's quorum" _ceph_in_log \
      "$dir/log/mon.a.log" "mons a in quorum"; then
      _ceph_state_set "$dir" mon_port "$port"
      return 0
    fi
    grep -qi 'address already in use\|unable to bind' "$dir/log/mon.a.out" \
      "$dir/log/mon.a.log" 2>/dev/null || return 1
    _ceph_log "monitor port $port was taken; retrying ($try)"
    _ceph_forget "$dir" mon.a
  done
  return 1
}

# BlueStore's mkfs needs no monitor: it runs while the monitor starts.
# --no-mon-config: a daemon first fetches its configuration from the
# monitors, and would wait for this one (up to 300 s if it read ceph.conf
# before the monitor's port was known).
_ceph_mkfs_osd() {
  local dir=$1 uuid=$2
  mkdir -p "$dir/osd/osd.0"
  # Recorded as a tool: stop ends it if the start is interrupted.
  ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --no-mon-config \
    --osd-uuid "$uuid" \
    >>"$dir/log/osd-mkfs.out" 2>&1 &
  printf 'tool.mkfs %s\n' "$!" >>"$dir/pids"
}

_ceph_start_osd() {
  local dir=$1 uuid=$2 mkfs rc=0
  _ceph "$dir" osd new "$uuid" 0 >>"$dir/log/start.log" 2>&1 || rc=1
  mkfs=$(_ceph_pid_of "$dir" tool.mkfs)
  wait "$mkfs" || rc=1
  _ceph_forget "$dir" tool.mkfs
  ((rc == 0)) || return 1
  _ceph_spawn "$dir" osd.0 ceph-osd -f -c "$dir/ceph.conf" -i 0
}

_ceph_http_up() { curl -s -o /dev/null --max-time 2 "$1"; }

# _ceph_start_rgw DIR ADDR [PORT]: RGW on PORT, or on a free port
# (retried on another if its bind fails: someone took it between the check
# and the bind). Returns once it answers HTTP, which it does only when its
# pools and zone are made, so it also waits for the OSD.
_ceph_start_rgw() {
  local dir=$1 addr=$2 fixed=${3:-} port try
  for try in 1 2 3; do
    port=${fixed:-$(_ceph_free_port)} || return 1
    : >"$dir/log/client.rgw.log"
    _ceph_spawn "$dir" rgw radosgw -f -c "$dir/ceph.conf" -n client.rgw \
      --rgw-frontends "beast endpoint=$addr:$port"
    if _ceph_wait "$dir" "RGW on $addr:$port" \
      _ceph_http_up "http://$addr:$port/"; then
      [[ -n "$fixed" ]] || _ceph_state_set "$dir" rgw_port "$port"
      return 0
    fi
    [[ -z "$fixed" ]] || return 1
    grep -qi 'address already in use\|failed to bind' \
      "$dir/log/client.rgw.log" "$dir/log/rgw.out" 2>/dev/null || return 1
    _ceph_log "port $port was taken; retrying ($try)"
    _ceph_forget "$dir" rgw
  done
  return 1
}

# RGW makes its data pool at the first write, with the default 8
# placement groups, and without a mgr the count cannot grow later: make it
# with 32 (the OSD's op shards then share RADOS's load evenly, as for
# `rados bench`), while RGW starts.
_ceph_start_rgw_and_pool() {
  local dir=$1 addr=$2 pool=default.rgw.buckets.data job rc=0
  {
    _ceph "$dir" osd pool create "$pool" 32 32 &&
      _ceph "$dir" osd pool application enable "$pool" rgw
  } >>"$dir/log/start.log" 2>&1 &
  job=$!
  _ceph_start_rgw "$dir" "$addr" || rc=1
  wait "$job" || rc=1
  return "$rc"
}

# Kills RGW (KILL, as a crash would) and forgets it.
ceph_cluster_rgw_kill() {
  local dir
  dir=$(realpath -m "$1")
  _ceph_kill "$dir" "$(_ceph_pid_of "$dir" rgw)"
  _ceph_forget "$dir" rgw
}

# Starts RGW again on the port it had (s3.env stays right).
ceph_cluster_rgw_start() {
  local dir
  dir=$(realpath -m "$1")
  if _ceph_is_ours "$dir" "$(_ceph_pid_of "$dir" rgw)"; then
    _ceph_log "rgw-start: RGW of $dir is running"
    return 2
  fi
  _ceph_forget "$dir" rgw
  _ceph_start_rgw "$dir" "$(_ceph_state_get "$dir" addr)" \
    "$(_ceph_state_get "$dir" rgw_port)"
}

_ceph_write_clients() {
  local dir=$1 endpoint=$2 key=$3 secret=$4 hostport=${2#http://}
  local region=us-east-1
  mkdir -p "$dir/aws"
  cat >"$dir/aws/config" <<EOF
[default]
region = $region
s3 =
    addressing_style = path
EOF
  cat >"$dir/aws/credentials" <<EOF
[default]
aws_access_key_id = $key
aws_secret_access_key = $secret
EOF
  cat >"$dir/s3cfg" <<EOF
[default]
access_key = $key
secret_key = $secret
host_base = $hostport
host_bucket = $hostport
bucket_location = $region
use_https = False
signature_v2 = False
EOF
  cat >"$dir/rclone.conf" <<EOF
[ceph]
type = s3
provider = Ceph
access_key_id = $key
secret_access_key = $secret
endpoint = $endpoint
region = $region
force_path_style = true
EOF
  {
    echo "# The test cluster's S3 user and endpoint (tests/support/ceph_lib.sh)."
    echo "# The endpoint is plain HTTP: a CA bundle the machine's environment"
    echo "# names is not needed (and rclone 1.60 refuses one on plain HTTP);"
    echo "# a profile or session token of the caller's would not match."
    echo "unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN"
    printf 'export %s=%q\n' AWS_ACCESS_KEY_ID "$key" \
      AWS_SECRET_ACCESS_KEY "$secret" AWS_ENDPOINT_URL "$endpoint" \
      AWS_REGION "$region" AWS_DEFAULT_REGION "$region" \
      AWS_CONFIG_FILE "$dir/aws/config" \
      AWS_SHARED_CREDENTIALS_FILE "$dir/aws/credentials" \
      S3CMD_CONFIG "$dir/s3cfg" RCLONE_CONFIG "$dir/rclone.conf" \
      CEPH_CONF "$dir/ceph.conf" VALISE_CEPH_DIR "$dir"
  } >"$dir/s3.env"
  chmod 600 "$dir/s3.env" "$dir/aws/credentials" "$dir/s3cfg" \
    "$dir/rclone.conf"
}

_ceph_make_user() {
  local dir=$1 endpoint=$2 key secret
  key=$(_ceph_random 'A-Z0-9' 20)
  secret=$(_ceph_random 'A-Za-z0-9' 40)
  radosgw-admin -c "$dir/ceph.conf" -n client.rgw user create --uid=valise \
    --display-name="valise tests" --access-key="$key" --secret="$secret" \
    >>"$dir/log/start.log" 2>&1 || return 1
  _ceph_write_clients "$dir" "$endpoint" "$key" "$secret"
}

# The MDS says it became active in its log (no `ceph` command polled).
_ceph_mds_active() { grep -q 'up:active' "$1/log/mds.a.log" 2>/dev/null; }

# Adds CephFS to a running cluster: its two pools, the file system
# "cephfs" and an MDS; returns once the MDS is active. Idempotent, and
# serialised by a lock in DIR (two tests may ask at once).
ceph_cluster_cephfs() {
  local dir rc=0 _ceph_lock_fd
  dir=$(realpath -m "$1")
  [[ -f "$dir/s3.env" ]] || {
    _ceph_log "cephfs: no running cluster in $dir"
    return 2
  }
  exec {_ceph_lock_fd}>"$dir/cephfs.lock"
  flock "$_ceph_lock_fd"
  if [[ -z "$(_ceph_state_get "$dir" cephfs)" ]]; then
    # The MDS binds to the cluster's address: started from another network
    # namespace (a `mount` under nsenter --net) it could not.
    if [[ "$(readlink /proc/self/ns/net)" != "$(_ceph_state_get "$dir" netns)" ]]; then
      _ceph_log "cephfs: add CephFS from the cluster's network namespace" \
        "first (ceph_cluster.sh cephfs $dir, or start --cephfs)"
      rc=2
    else
      _ceph_start_cephfs "$dir" || rc=1
    fi
    ((rc)) || _ceph_state_set "$dir" cephfs yes
  fi
  exec {_ceph_lock_fd}>&-
  return "$rc"
}

_ceph_start_cephfs() {
  local dir=$1
  {
    _ceph "$dir" osd pool create cephfs_metadata 8 &&
      _ceph "$dir" osd pool create cephfs_data 8 &&
      _ceph "$dir" fs new cephfs cephfs_metadata cephfs_data
  } >>"$dir/log/start.log" 2>&1 || return 1
  mkdir -p "$dir/mds/mds.a"
  _ceph_spawn "$dir" mds.a ceph-mds -f -c "$dir/ceph.conf" -i a
  _ceph_wait "$dir" "the MDS to be active" _ceph_mds_active "$dir"
}

_ceph_is_fuse_mount() {
  findmnt -n -o FSTYPE --mountpoint "$1" 2>/dev/null | grep -q fuse
}

ceph_cluster_mount() {
  local dir mnt n name
  dir=$(realpath -m "$1")
  mnt=$(realpath -m "$2")
  ceph_cluster_cephfs "$dir" || return
  mkdir -p "$mnt"
  n=$(_ceph_state_get "$dir" fuse_seq) || n=0
  name="fuse.$((n + 1))"
  _ceph_state_set "$dir" fuse_seq $((n + 1))
  _ceph_spawn "$dir" "$name" ceph-fuse -f -c "$dir/ceph.conf" --id admin \
    --client-fs cephfs "$mnt"
  printf '%s %s %s\n' "$mnt" "$(_ceph_pid_of "$dir" "$name")" "$name" \
    >>"$dir/mounts"
  _ceph_wait "$dir" "ceph-fuse on $mnt" _ceph_is_fuse_mount "$mnt"
}

# Unmounts MNT if it is mounted here (lazily if it stays busy), then ends
# its ceph-fuse by PID.
_ceph_umount_one() {
  local dir=$1 mnt=$2 pid=$3 i
  if _ceph_is_fuse_mount "$mnt"; then
    for ((i = 0; i < 10; i++)); do
      umount "$mnt" 2>/dev/null && break
      sleep 0.2
    done
    if _ceph_is_fuse_mount "$mnt"; then
      _ceph_log "$mnt busy: lazy unmount"
      umount -l "$mnt" 2>/dev/null
    fi
  fi
  _ceph_kill "$dir" "$pid"
}

ceph_cluster_umount() {
  local dir mnt m pid name
  dir=$(realpath -m "$1")
  mnt=$(realpath -m "$2")
  [[ -f "$dir/mounts" ]] || return 0
  while read -r m pid name; do
    [[ "$m" == "$mnt" ]] || continue
    _ceph_umount_one "$dir" "$m" "$pid"
    _ceph_forget "$dir" "$name"
  done <"$dir/mounts"
  awk -v m="$mnt" '$1 != m' "$dir/mounts" >"$dir/mounts.new"
  mv "$dir/mounts.new" "$dir/mounts"
}

# _ceph_kill DIR PID...: KILL to those of PIDs that are DIR's (a test
# cluster's data is thrown away: there is nothing to shut down cleanly,
# and RGW takes up to rgw_exit_timeout_secs (120 s) to obey a TERM);
# returns once they are gone (a zombie no longer counts as DIR's).
_ceph_kill() {
  local dir=$1 pid deadline
  shift
  for pid in "$@"; do
    if _ceph_is_ours "$dir" "$pid"; then kill -KILL "$pid" 2>/dev/null; fi
  done
  deadline=$((SECONDS + 30))
  for pid in "$@"; do
    while { _ceph_is_ours "$dir" "$pid" || _ceph_exiting "$pid"; } &&
      ((SECONDS < deadline)); do
      sleep 0.05
    done
  done
  return 0
}

# _ceph_exiting PID: true while PID is dying but not yet a zombie. Its
# command line empties as it lets go of its memory, before it is a zombie
# its parent is told of: in between, kill -0 still finds it, and a caller
# that checks right after stop must not.
_ceph_exiting() {
  local stat
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != Z && ! -s "/proc/$1/cmdline" ]]
}

ceph_cluster_stop() {
  local dir run mnt pid pids=()
  dir=$(realpath -m "$1")
  [[ -e "$dir" ]] || return 0
  if [[ ! -f "$dir/.valise-ceph" ]]; then
    if [[ -z "$(ls -A "$dir" 2>/dev/null)" ]]; then
      rmdir "$dir"
      return 0
    fi
    _ceph_log "stop: $dir is not a cluster directory (no .valise-ceph):" \
      "left alone"
    return 2
  fi
  if [[ -f "$dir/mounts" ]]; then
    while read -r mnt pid _; do
      _ceph_umount_one "$dir" "$mnt" "$pid"
    done <"$dir/mounts"
  fi
  # Every recorded daemon at once, clients first in the list.
  if [[ -f "$dir/pids" ]]; then
    mapfile -t pids < <(tac "$dir/pids" | awk '{print $2}')
    _ceph_kill "$dir" "${pids[@]}"
  fi
  # Nothing of this cluster may be left: no daemon, no mount.
  local left=""
  for pid in "${pids[@]}"; do
    if _ceph_is_ours "$dir" "$pid"; then left+=" pid $pid"; fi
  done
  if [[ -f "$dir/mounts" ]]; then
    while read -r mnt pid _; do
      if _ceph_is_fuse_mount "$mnt"; then left+=" mount $mnt"; fi
    done <"$dir/mounts"
  fi
  if [[ -n "$left" ]]; then
    _ceph_log "stop: still there after stop:$left; $dir kept"
    return 1
  fi
  run=$(_ceph_state_get "$dir" run_dir) || true
  if [[ -n "$run" && -d "$run" && "$run" == */valise-ceph-run.* ]]; then
    rm -rf --one-file-system "$run"
  fi
  # --one-file-system: never into a mount left behind.
  rm -rf --one-file-system "$dir"
  if [[ -e "$dir" ]]; then
    _ceph_log "stop: could not remove all of $dir"
    return 1
  fi
  return 0
}

ceph_cluster_running() {
  local dir name pid
  dir=$(realpath -m "$1")
  [[ -f "$dir/pids" && -f "$dir/s3.env" ]] || return 1
  while read -r name pid; do
    _ceph_is_ours "$dir" "$pid" || return 1
  done <"$dir/pids"
}

ceph_cluster_env() {
  local dir
  dir=$(realpath -m "$1")
  [[ -f "$dir/s3.env" ]] || {
    _ceph_log "env: no cluster in $dir"
    return 1
  }
  printf '%s\n' "$dir/s3.env"
}

_ceph_dump_logs() {
  local dir=$1 f
  for f in "$dir"/log/*; do
    [[ -s "$f" ]] || continue
    echo "---- $f (last 30 lines) ----"
    tail -n 30 "$f"
  done >&2
}

# Milliseconds since the epoch.
_ceph_ms() { date +%s%3N; }

ceph_cluster_start() {
  local dir="" addr=127.0.0.1 cephfs="" osd_size=32G no_rgw=0
  while (($#)); do
    case $1 in
      --no-rgw) no_rgw=1 ;;
      --addr) addr=${2:?--addr needs an IPv4 address}; shift ;;
      --cephfs) cephfs=${2:?--cephfs needs a mount point}; shift ;;
      --osd-size) osd_size=${2:?--osd-size needs a size}; shift ;;
      -*) _ceph_log "start: unknown option $1"; return 2 ;;
      *) dir=$1 ;;
    esac
    shift
  done
  [[ -n "$dir" ]] || { _ceph_log "start: no cluster directory"; return 2; }
  dir=$(realpath -m "$dir")
  if [[ -e "$dir" && -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
    _ceph_log "start: $dir is not empty"
    return 2
  fi
  local size
  size=$(numfmt --from=iec "$osd_size") || return 2
  local t0 run fsid uuid endpoint mon_port ok=0
  t0=$(_ceph_ms)
  mkdir -p "$dir/log" "$dir/crash" "$dir/rgw" || return 1
  touch "$dir/.valise-ceph" "$dir/pids" "$dir/mounts" "$dir/state"
  run=$(mktemp -d /tmp/valise-ceph-run.XXXXXX) || return 1
  _ceph_state_set "$dir" run_dir "$run"
  _ceph_state_set "$dir" addr "$addr"
  _ceph_state_set "$dir" netns "$(readlink /proc/self/ns/net)"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  uuid=$(cat /proc/sys/kernel/random/uuid)
  _ceph_state_set "$dir" fsid "$fsid"
  # If the monitor's port is taken before it binds, the configuration is
  # written again with another; the OSD's mkfs reads only what does not
  # change (fsid, paths, sizes).
  if mon_port=$(_ceph_free_port) && _ceph_make_keyring "$dir" &&
    _ceph_write_conf "$dir" "$addr" "$mon_port" "$fsid" "$run" "$size" &&
    _ceph_mkfs_osd "$dir" "$uuid" &&
    _ceph_start_mon "$dir" "$addr" "$fsid" "$size" "$run" "$mon_port"; then
    _ceph_state_set "$dir" mon_ms $(($(_ceph_ms) - t0))
    # RGW starts while the OSD boots: it waits for it.
    if ((no_rgw)) && _ceph_start_osd "$dir" "$uuid"; then
      ok=1
      {
        echo "# The test cluster, without RGW (tests/support/ceph_lib.sh)."
        printf 'export %s=%q\n' CEPH_CONF "$dir/ceph.conf" \
          VALISE_CEPH_DIR "$dir"
      } >"$dir/s3.env"
    elif ((!no_rgw)) && _ceph_start_osd "$dir" "$uuid" &&
      _ceph_start_rgw_and_pool "$dir" "$addr"; then
      _ceph_state_set "$dir" rgw_ms $(($(_ceph_ms) - t0))
      endpoint="http://$addr:$(_ceph_state_get "$dir" rgw_port)"
      if _ceph_make_user "$dir" "$endpoint"; then
        ok=1
        _ceph_state_set "$dir" s3_ms $(($(_ceph_ms) - t0))
      fi
    fi
  fi
  if ((ok)) && [[ -n "$cephfs" ]]; then
    if ceph_cluster_mount "$dir" "$cephfs"; then
      _ceph_state_set "$dir" cephfs_ms $(($(_ceph_ms) - t0))
    else
      ok=0
    fi
  fi
  if ((!ok)); then
    _ceph_log "start failed; the logs of $dir:"
    _ceph_dump_logs "$dir"
    ceph_cluster_stop "$dir"
    return 1
  fi
  _ceph_log "up in $(($(_ceph_ms) - t0)) ms: S3 at ${endpoint:-none}," \
    "environment in $dir/s3.env"
  return 0
}
