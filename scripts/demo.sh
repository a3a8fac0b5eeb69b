#!/usr/bin/env bash
# The whole system in one command: build, start server_key and server (SQLite default), run the
# key step for the three clients, then open the three chat windows. Without a display (or with
# --headless) it runs a short three-way conversation in terminal mode instead and shows, from the
# server's trace, that only ciphertext crossed the network. Ctrl+C stops everything it started.
#
#   scripts/demo.sh              GUI when $DISPLAY is set, else headless
#   scripts/demo.sh --headless   always the terminal conversation
set -euo pipefail
cd "$(dirname "$0")/.."
headless=0
[ "${1:-}" = "--headless" ] && headless=1
[ -z "${DISPLAY:-}" ] && headless=1

scripts/bootstrap.sh
export PATH="/usr/local/bin:$PATH"
echo "demo: building (the first build takes several minutes: RSA, SQLite, MySQL driver, FLTK)"
cargo build -q -p server -p server_key -p client_wy -p client_dz -p client_cxk
B=target/debug
logs=target/demo
mkdir -p "$logs"

pids=()
cleanup() {
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "demo: stopped everything it started"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 8090 8091; do
    if port_busy "$p"; then
        echo "demo: port $p is already in use (another server or demo running?). Stop it and try again." >&2
        exit 1
    fi
done

wait_port() {
    for _ in $(seq 1 100); do port_busy "$1" && return 0; sleep 0.1; done
    echo "demo: a server did not start; see $logs/" >&2; cat "$logs"/*.log >&2; exit 1
}
# server_key first: it creates keys/sessions, without which the chat server refuses to start.
"$B/server_key" --trace >"$logs/server_key.log" 2>&1 &
pids+=($!)
wait_port 8091
"$B/server" --trace >"$logs/server.log" 2>&1 &
pids+=($!)
wait_port 8090
grep -h "fingerprint" "$logs/server_key.log" || true

echo
echo "== key distribution (digital envelope) for the three clients"
for c in client_wy client_dz client_cxk; do "$B/$c" key; done

if [ "$headless" -eq 0 ]; then
    echo
    echo "== opening three chat windows (password 111111). Ctrl+C here stops everything."
    for c in client_wy client_dz client_cxk; do
        "$B/$c" >"$logs/$c.log" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]:2}" 2>/dev/null || true
    exit 0
fi

echo
echo "== a three-way conversation in terminal mode (no display)"
export CHAT_PASSWORD=111111
m1="大家好，我是王源 (hello everyone) | 数字信封"
m2="丁真收到！DES + RSA 🔐"
m3="悄悄话 for wang_yuan only"
( sleep 6 ) | "$B/client_cxk" cli >"$logs/cxk.out" 2>"$logs/cxk.err" &
pids+=($!)
( sleep 1.5; echo "$m2"; sleep 4.5 ) | "$B/client_dz" cli >"$logs/dz.out" 2>"$logs/dz.err" &
pids+=($!)
( sleep 0.8; echo "$m1"; sleep 1.5; echo "/w user1 $m3" | "$B/client_cxk" cli >/dev/null 2>&1 || true; sleep 3.5 ) \
    | "$B/client_wy" cli >"$logs/wy.out" 2>"$logs/wy.err" &
pids+=($!)
wait "${pids[@]:2}" 2>/dev/null || true
for c in wy dz cxk; do
    echo "--- client_$c received:"
    sed 's/^/    /' "$logs/$c.out"
done

echo
echo "== what crossed the network, from the server's --trace (first frames of the conversation)"
grep -E '\] (in|out) ' "$logs/server.log" | grep -E ' (0002|1002)\|' | head -6 | cut -c1-160
leaked=0
# Only the frame lines: the server's log also has its first-start notice naming the seed
# password, which is not something that crossed the network.
grep -E '\] (in|out) ' "$logs/server.log" >"$logs/frames.log" || true
if [ ! -s "$logs/frames.log" ]; then echo "demo: the server's trace has no frames: nothing to check"; leaked=1; fi
for m in "$m1" "$m2" "$m3" "111111"; do
    if grep -qF "$m" "$logs/frames.log"; then echo "demo: PLAINTEXT FOUND in the trace: $m"; leaked=1; fi
done
if [ "$leaked" -eq 0 ]; then
    echo "demo: none of the messages (nor the password) appears in clear in the server's trace:"
    echo "      every frame in and out was DES-CBC ciphertext with an HMAC, re-encrypted per recipient."
fi
echo "demo: logs in $logs/"
[ "$leaked" -eq 0 ] || exit 1
