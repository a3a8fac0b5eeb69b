#!/usr/bin/env bash
# Load run: N logged-in clients, S of them sending at a fixed total rate for D seconds, through
# the real protocol (loadgen). The checker verifies that every message the server accepted
# reached every online user exactly once and in order, and prints accepted, delivered, lost,
# duplicated, reordered, plus the server's peak memory and CPU time. A load run that prints
# figures, not a timed test; it fails only on loss, duplication, reordering or disconnection.
#
#   scripts/load.sh                 1,000 clients, 100 messages/s in total, 60 s (release build)
#   scripts/load.sh --short         100 clients, 100 messages/s, 5 s (debug build; run by test.sh)
#   USERS=200 SENDERS=20 RATE=500 DURATION=20 scripts/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
short=0
[ "${1:-}" = "--short" ] && short=1
if [ "$short" -eq 1 ]; then
    USERS=${USERS:-100}; SENDERS=${SENDERS:-10}; RATE=${RATE:-100}; DURATION=${DURATION:-5}; PROFILE=${PROFILE:-debug}
else
    USERS=${USERS:-1000}; SENDERS=${SENDERS:-100}; RATE=${RATE:-100}; DURATION=${DURATION:-60}; PROFILE=${PROFILE:-release}
fi
export PATH="/usr/local/bin:$PATH"
if [ "$PROFILE" = release ]; then
    cargo build -q --release -p server -p server_key --bins
else
    cargo build -q -p server -p server_key --bins
fi
B=target/$PROFILE
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d -t minichat-load.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kp=$(free_port); cp_=$(free_port)
# Every simulated PC shares 127.0.0.1: lift server_key's per-address and per-user limits.
printf 'key_dir = "%s/keys"\nkey_requests_per_minute_per_address = 0\nkey_requests_per_minute_per_user = 0\nmax_exchanges_per_address = 0\n' \
    "$tmp" >"$tmp/server_key.toml"
printf 'database = "sqlite://%s/db.sqlite"\nsession_key_dir = "%s/keys/sessions"\nmax_connections = %d\n' \
    "$tmp" "$tmp" $((USERS + 100)) >"$tmp/server.toml"
# The chat server refuses to start without server_key's sessions folder; both start at once here.
mkdir -p "$tmp/keys/sessions"
"$B/server_key" --config "$tmp/server_key.toml" --listen "127.0.0.1:$kp" >"$tmp/server_key.log" 2>&1 &
pids+=($!)
"$B/server" --config "$tmp/server.toml" --listen "127.0.0.1:$cp_" >"$tmp/server.log" 2>&1 &
spid=$!
pids+=($spid)
for p in "$kp" "$cp_"; do
    # Up to 60 s: on a loaded machine start-up (server key, database seeding) can be slow.
    for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
done

echo "load: $USERS clients, $SENDERS senders, $RATE messages/s in total, ${DURATION}s, $PROFILE build"
set +e
"$B/loadgen" --db "sqlite://$tmp/db.sqlite" --user-list "$tmp/keys/chat_users.txt" --chat-port "$cp_" --key-port "$kp" --work-dir "$tmp/loadgen" \
    --users "$USERS" --senders "$SENDERS" --rate "$RATE" --duration "$DURATION" --concurrency 32 --check \
    | tee "$tmp/result.txt"
status=${PIPESTATUS[0]}
set -e
ticks=$(getconf CLK_TCK)
read -r ut st < <(awk '{print $14, $15}' "/proc/$spid/stat")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$spid/status")
cpu=$(awk -v u="$ut" -v s="$st" -v t="$ticks" 'BEGIN {printf "%.1f", (u + s) / t}')
echo "SERVER peak_rss_kib=$hwm cpu_seconds=$cpu"
if [ "$status" -ne 0 ]; then
    echo "load: FAIL (see above)"; tail -20 "$tmp/server.log"; exit 1
fi
echo "load: PASS"
