#!/usr/bin/env bash
# Before/after benchmark of a restructuring (issue 10: "benchmarks show no slowdown, same-run ratio
# to before"). Builds an earlier commit (REF) in its own worktree and target folder, then runs the
# relay and the key distribution against the old and the new servers in turn, each with its own
# loadgen (the protocol grew between them: history frames at login, a signed clock in 1101), on
# the same machine in the same run, alternating old and new so a change in the machine's load
# falls on both. Prints the per-run figures and the median ratios new/old; writes them to
# target/bench-before-after/.
#
#   scripts/bench-before-after.sh [REF]        REF defaults to 80f93ab (main before issue 10's work)
#
# Knobs: RUNS (5), DURATION (relay seconds, 4), USERS (50), SENDERS (10), KEY_DURATION (4),
# KEY_CONCURRENCY (32).
# Figures are server CPU-seconds based (deliveries and handshakes per server CPU-second), so a
# busy machine slows both sides alike; run it on a quiet machine all the same.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REF=${1:-80f93ab}
RUNS=${RUNS:-5}
DURATION=${DURATION:-4}
USERS=${USERS:-50}
SENDERS=${SENDERS:-10}
KEY_DURATION=${KEY_DURATION:-4}
KEY_CONCURRENCY=${KEY_CONCURRENCY:-32}
OUT=$ROOT/target/bench-before-after
OLD_SRC=$OUT/src
OLD_TARGET=$OUT/target

log() { printf '[before-after] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
source scripts/lib/wait.sh
ulimit -n 65536 2>/dev/null || true

mkdir -p "$OUT"
if [ ! -d "$OLD_SRC" ] || [ "$(git -C "$OLD_SRC" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$REF^{commit}")" ]; then
    git worktree remove --force "$OLD_SRC" 2>/dev/null || rm -rf "$OLD_SRC"
    git worktree prune
    git worktree add --detach "$OLD_SRC" "$REF" >&2
fi
log "release build of $REF (old) and of the working tree (new)"
(cd "$OLD_SRC" && CARGO_TARGET_DIR=$OLD_TARGET cargo build -q --release -p server -p server_key --bins)
cargo build -q --release -p server -p server_key --bins

tmp=$(mktemp -d -t minichat-before-after.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# start VERSION BIN_DIR [SERVER FLAGS]: both servers of one version in $tmp/VERSION; sets
# LG_<VERSION>, SPID_<VERSION> and KPID_<VERSION>.
start() {
    local v=$1 b=$2 d=$tmp/$1 kp cp
    shift 2
    mkdir -p "$d/keys/sessions"
    kp=$(free_port)
    cp=$(free_port)
    # A REF from before server_key's per-address limits and user list (80f93ab) takes neither;
    # its loadgen says so in --help.
    local recent=1
    "$b/loadgen" --help 2>/dev/null | grep -q -- '--user-list' || recent=0
    if [ "$recent" = 0 ]; then
        printf 'key_dir = "%s/keys"\n' "$d" >"$d/server_key.toml"
    else
        # Every simulated PC shares 127.0.0.1: lift the newer per-address and per-user limits.
        printf 'key_dir = "%s/keys"\nkey_requests_per_minute_per_address = 0\nkey_requests_per_minute_per_user = 0\nmax_exchanges_per_address = 0\n' \
            "$d" >"$d/server_key.toml"
    fi
    printf 'database = "sqlite://%s/db.sqlite"\nsession_key_dir = "%s/keys/sessions"\nmax_connections = 3000\n' \
        "$d" "$d" >"$d/server.toml"
    "$b/server_key" --config "$d/server_key.toml" --listen "127.0.0.1:$kp" >"$OUT/${v}_server_key.log" 2>&1 &
    pids+=($!)
    eval "KPID_$v=$!"
    "$b/server" --config "$d/server.toml" --listen "127.0.0.1:$cp" "$@" >"$OUT/${v}_server.log" 2>&1 &
    pids+=($!)
    eval "SPID_$v=$!"
    wait_until 20 "$v server_key on :$kp" listening "$kp"
    wait_until 20 "$v server on :$cp" listening "$cp"
    local lg=("$b/loadgen" --db "sqlite://$d/db.sqlite" --chat-port "$cp" --key-port "$kp" --work-dir "$d/loadgen")
    [ "$recent" = 1 ] && lg+=(--user-list "$d/keys/chat_users.txt")
    eval "LG_$v=(\"\${lg[@]}\")"
}
start old "$OLD_TARGET/release"
start new "$ROOT/target/release"
# The same new server without the message history (issue 15), which the old one did not have:
# the structure's own cost is new-without-history against old.
start newnh "$ROOT/target/release" --no-history
VERSIONS="old new newnh"
log "servers up; key steps for $USERS load users on each (once)"
for v in $VERSIONS; do
    spid_var=SPID_$v
    lg_var="LG_$v[@]"
    "${!lg_var}" --concurrency 32 --reuse-keys --server-pid "${!spid_var}" --mode idle --users "$USERS" --duration 0 \
        >"$OUT/${v}_warmup.txt" 2>&1
done

# field LINE NAME: the value of NAME=... in a loadgen result line.
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
per_cpu() { awk -v n="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.1f", n / c; else print 0 }'; }

: >"$OUT/runs.txt"
for r in $(seq 1 "$RUNS"); do
    for v in $VERSIONS; do
        spid_var=SPID_$v
        kpid_var=KPID_$v
        lg_var="LG_$v[@]"
        line=$("${!lg_var}" --concurrency 32 --reuse-keys --server-pid "${!spid_var}" --mode relay --users "$USERS" --senders "$SENDERS" \
            --rate 0 --window 4 --duration "$DURATION" --size 100 --check 2>>"$OUT/${v}_relay.err" | grep '^RELAY' || true)
        relay=$(per_cpu "$(field "$line" delivered)" "$(field "$line" server_cpu_s)")
        sleep 1
        keys=0
        if [ "$v" != newnh ]; then
            line=$("${!lg_var}" --mode keydist --concurrency "$KEY_CONCURRENCY" --duration "$KEY_DURATION" \
                --server-pid "${!kpid_var}" --check 2>>"$OUT/${v}_keydist.err" | grep '^KEYDIST' || true)
            keys=$(per_cpu "$(field "$line" handshakes)" "$(field "$line" server_cpu_s)")
            sleep 1
        fi
        echo "run=$r version=$v relay_deliveries_per_server_cpu_s=$relay keydist_handshakes_per_server_cpu_s=$keys" | tee -a "$OUT/runs.txt" >&2
    done
done

python3 - "$OUT/runs.txt" "$REF" "$(git rev-parse --short HEAD)" <<'EOF' | tee "$OUT/summary.md"
import statistics, sys
rows = [dict(kv.split("=") for kv in line.split()) for line in open(sys.argv[1]) if line.strip()]
med = lambda v, key: statistics.median(float(r[key]) for r in rows if r["version"] == v)
runs = sum(1 for r in rows if r["version"] == "old")
print(f"| measure (median of {runs} alternating runs) | before ({sys.argv[2]}) | after ({sys.argv[3]}) | after / before |")
print("|---|---|---|---|")
relay = "relay_deliveries_per_server_cpu_s"
keys = "keydist_handshakes_per_server_cpu_s"
for v, name in [("newnh", "relay, max rate: deliveries per server CPU-second (after: history off, as before)"),
                ("new", "relay, max rate: deliveries per server CPU-second (after: history on)")]:
    print(f"| {name} | {med('old', relay):,.0f} | {med(v, relay):,.0f} | {med(v, relay) / med('old', relay):.2f}x |")
print(f"| key distribution: handshakes per server_key CPU-second | {med('old', keys):,.1f} | {med('new', keys):,.1f} | {med('new', keys) / med('old', keys):.2f}x |")
EOF
