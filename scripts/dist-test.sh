#!/usr/bin/env bash
# Portable-folder test: build dist/, copy dist/server and dist/client_wy + dist/client_dz to new
# temporary paths, start the servers there, then run `key` and `cli` of the copied clients from a
# different working directory. Fails unless a message goes from one copied client to the other.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d -t minichat-dist.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

DIST_DIR="$tmp/dist" scripts/dist.sh --debug >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kp=$(free_port); cp_=$(free_port)

mv "$tmp/dist/server" "$tmp/teacher-pc"
"$tmp/teacher-pc/server_key" --config "$tmp/teacher-pc/server_key.toml" --listen "127.0.0.1:$kp" >"$tmp/sk.log" 2>&1 &
pids+=($!)
"$tmp/teacher-pc/server" --config "$tmp/teacher-pc/server.toml" --listen "127.0.0.1:$cp_" >"$tmp/srv.log" 2>&1 &
pids+=($!)

for c in client_wy client_dz; do
    mkdir -p "$tmp/classmate-$c/Desktop"
    cp -r "$tmp/dist/$c" "$tmp/classmate-$c/Desktop/$c"
    sed -i -e "s/^chat_port = .*/chat_port = $cp_/" -e "s/^key_port = .*/key_port = $kp/" \
        "$tmp/classmate-$c/Desktop/$c/client.toml"
done
# Wait for both servers to listen (on a busy machine their start-up, which creates the server key
# and seeds the database, can take more than a fixed sleep).
wait_port() {
    for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    echo "dist-test: FAIL: nothing listens on port $1 after 60 s"; cat "$tmp/sk.log" "$tmp/srv.log"; exit 1
}
wait_port "$kp"; wait_port "$cp_"

cd /  # a different working directory: the clients must find client.toml beside themselves
for c in client_wy client_dz; do
    "$tmp/classmate-$c/Desktop/$c/$c" key
done
test -s "$tmp/classmate-client_wy/Desktop/client_wy/session_key.txt"
test -s "$tmp/teacher-pc/keys/sessions/user1.txt"

msg="hello from a copied folder 复制的文件夹 $$"
# dz stays logged in until the message arrived (or 60 s passed); wy sends only once dz is online,
# so the test waits on events rather than on guessed sleeps.
( for _ in $(seq 1 600); do [ -e "$tmp/done" ] && break; sleep 0.1; done ) |
    CHAT_PASSWORD=111111 "$tmp/classmate-client_dz/Desktop/client_dz/client_dz" cli >"$tmp/dz.out" 2>"$tmp/dz.err" &
dzpid=$!
for _ in $(seq 1 600); do grep -q "logged in" "$tmp/dz.err" 2>/dev/null && break; sleep 0.1; done
( echo "$msg"; for _ in $(seq 1 300); do grep -qF "$msg" "$tmp/dz.out" 2>/dev/null && break; sleep 0.1; done ) |
    CHAT_PASSWORD=111111 "$tmp/classmate-client_wy/Desktop/client_wy/client_wy" cli >"$tmp/wy.out" 2>"$tmp/wy.err"
touch "$tmp/done"
wait "$dzpid" || true
cd "$root"
if grep -qF "wang_yuan: $msg" "$tmp/dz.out"; then
    echo "dist-test: PASS (copied folders did the key step and chatted from another working directory)"
else
    echo "dist-test: FAIL: message not received"; echo "--- dz.out"; cat "$tmp/dz.out"; echo "--- dz.err"; cat "$tmp/dz.err"
    echo "--- wy.err"; cat "$tmp/wy.err"; echo "--- srv.log"; tail -20 "$tmp/srv.log"
    exit 1
fi
