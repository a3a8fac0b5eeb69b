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
udp_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0",0)); print(s.getsockname()[1])'; }
dp=$(udp_port)

mv "$tmp/dist/server" "$tmp/teacher-pc"
# The class folders find the teacher's PC themselves (server_host = "auto"): server_key answers
# on a free UDP port (not 8092, so parallel runs do not meet) and announces the chat port.
sed -i -e "s/^discovery_port = .*/discovery_port = $dp/" -e "s/^chat_port = .*/chat_port = $cp_/" \
    "$tmp/teacher-pc/server_key.toml"
grep -qx "discovery_port = $dp" "$tmp/teacher-pc/server_key.toml" || { echo "dist-test: FAIL: server_key.toml has no discovery_port"; exit 1; }
"$tmp/teacher-pc/server_key" --config "$tmp/teacher-pc/server_key.toml" --listen "127.0.0.1:$kp" >"$tmp/sk.log" 2>&1 &
pids+=($!)
"$tmp/teacher-pc/server" --config "$tmp/teacher-pc/server.toml" --listen "127.0.0.1:$cp_" >"$tmp/srv.log" 2>&1 &
pids+=($!)

for c in client_wy client_dz; do
    mkdir -p "$tmp/classmate-$c/Desktop"
    cp -r "$tmp/dist/$c" "$tmp/classmate-$c/Desktop/$c"
    grep -qx 'server_host = "auto"' "$tmp/classmate-$c/Desktop/$c/client.toml" ||
        { echo "dist-test: FAIL: $c/client.toml is not server_host = \"auto\""; exit 1; }
    # The TCP ports are left wrong on purpose: with "auto" they come from server_key's answer.
    sed -i -e "s/^discovery_port = .*/discovery_port = $dp/" "$tmp/classmate-$c/Desktop/$c/client.toml"
done
# Wait for both servers to listen (on a busy machine their start-up, which creates the server key
# and seeds the database, can take more than a fixed sleep).
wait_port() {
    for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    echo "dist-test: FAIL: nothing listens on port $1 after 60 s"; cat "$tmp/sk.log" "$tmp/srv.log"; exit 1
}
wait_port "$kp"; wait_port "$cp_"

# One zip per folder, holding the program named after the folder and its config.
# The lab guide travels in every folder, and the lab's attacker with the servers.
cmp -s docs/LESSON.md "$tmp/dist/client_dz/实验指导.md" || { echo "dist-test: FAIL: client_dz/实验指导.md is not docs/LESSON.md"; exit 1; }
test -x "$tmp/teacher-pc/attack_lab" || { echo "dist-test: FAIL: dist/server lacks attack_lab"; exit 1; }
zipped=$(unzip -Z1 "$tmp/dist/client_wy.zip")
for f in client_wy/client_wy client_wy/client.toml client_wy/client_private.pem client_wy/server_public.pem client_wy/实验指导.md; do
    grep -qx "$f" <<<"$zipped" || { echo "dist-test: FAIL: client_wy.zip lacks $f"; exit 1; }
done

cd /  # a different working directory: the clients must find client.toml beside themselves
for c in client_wy client_dz; do
    "$tmp/classmate-$c/Desktop/$c/$c" key | tee "$tmp/key-$c.out"
    grep -qF "在局域网里找到了老师的服务器：127.0.0.1" "$tmp/key-$c.out" ||
        { echo "dist-test: FAIL: $c key did not say it found the teacher's server"; exit 1; }
done
# A folder whose client.toml names another student (dist registers each folder's key for its own
# username only, registration = "strict") is refused, and told why; so is a name with no key.
refused_because() { # $1 = username to put in a copy of client_dz, $2 = text the refusal must contain
    local d="$tmp/intruder-$1/client_dz"
    mkdir -p "$(dirname "$d")"; cp -r "$tmp/classmate-client_dz/Desktop/client_dz" "$d"; rm -f "$d/session_key.txt"
    sed -i "s/^username = .*/username = \"$1\"/" "$d/client.toml"
    if "$d/client_dz" key >"$tmp/intruder.out" 2>&1; then
        echo "dist-test: FAIL: a folder claiming $1 got a session key"; exit 1
    fi
    grep -qF "$2" "$tmp/intruder.out" || { echo "dist-test: FAIL: refusal for $1 does not say \"$2\":"; cat "$tmp/intruder.out"; exit 1; }
    test ! -e "$d/session_key.txt"
}
refused_because user1 "密钥服务器不认识这个客户端"
refused_because ghost "密钥服务器不认识这个客户端"
echo "dist-test: another student's username and an unknown username are refused at the key step" 
test -s "$tmp/classmate-client_wy/Desktop/client_wy/session_key.txt"
test -s "$tmp/teacher-pc/keys/sessions/user1.txt"

msg="hello from a copied folder 复制的文件夹 $$"
# dz stays logged in until the message arrived (or 60 s passed); wy sends only once dz is online,
# so the test waits on events rather than on guessed sleeps.
( for _ in $(seq 1 600); do [ -e "$tmp/done" ] && break; sleep 0.1; done ) |
    CHAT_PASSWORD=111111 "$tmp/classmate-client_dz/Desktop/client_dz/client_dz" cli >"$tmp/dz.out" 2>"$tmp/dz.err" &
dzpid=$!
for _ in $(seq 1 600); do grep -q "已登录\|logged in" "$tmp/dz.err" 2>/dev/null && break; sleep 0.1; done
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
