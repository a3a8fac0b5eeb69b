#!/usr/bin/env bash
# Lab-guide test: runs every command in docs/LESSON.md's code blocks, in order, the way a student
# would, in folders made by scripts/dist.sh (dist/server, dist/client_wy) in a temporary place,
# and checks what each step must show (the envelope opened by hand with openssl equals
# session_key.txt; each attack refused with the client's own words; a 2-minute key).
#
# The first line of each block says where it runs: `[... server 文件夹 ...]` or
# `[... client_wy 文件夹 ...]` (runs to completion), `[新终端 ...]` (keeps running, in the
# background; a second ./server_key replaces the first, as Ctrl+C and a restart would),
# `[在 attack_lab 中输入 ...]` / `[在聊天中输入 ...]` (lines typed into the last attack_lab / chat).
# The guide's ports (8091, 8090, 9091, 9090) become free ports of this run. The English half must
# hold the same blocks as the Chinese half.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d -t minichat-lesson.XXXXXX)
groups=()
cleanup() {
    for g in "${groups[@]}"; do kill -- "-$g" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "lesson-test: FAIL: $*"; for f in "$tmp"/log/*; do echo "--- $f"; tail -n 30 "$f"; done; exit 1; }

DIST_DIR="$tmp/dist" scripts/dist.sh --debug >/dev/null
srv="$tmp/dist/server"
cli="$tmp/dist/client_wy"
test -s "$cli/实验指导.md" || fail "dist/client_wy has no 实验指导.md"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kp=$(free_port); cp_=$(free_port); akp=$(free_port); acp=$(free_port)
ports() { sed -e "s/8091/$kp/g" -e "s/8090/$cp_/g" -e "s/9091/$akp/g" -e "s/9090/$acp/g"; }
sed -i "s/^listen = .*/listen = \"127.0.0.1:$kp\"/" "$srv/server_key.toml"
sed -i "s/^listen = .*/listen = \"127.0.0.1:$cp_\"/" "$srv/server.toml"
sed -i -e "s/^key_port = .*/key_port = $kp/" -e "s/^chat_port = .*/chat_port = $cp_/" "$cli/client.toml"

# The blocks: docs/LESSON.md's ```sh blocks of the Chinese half, one file each; the English half
# must repeat them exactly.
mkdir -p "$tmp/blocks" "$tmp/log"
python3 - "$root/docs/LESSON.md" "$tmp/blocks" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
zh, en = text.split("\n---\n", 1)
blocks = lambda part: re.findall(r"```sh\n(.*?)```", part, re.S)
if blocks(zh) != blocks(en):
    sys.exit("lesson-test: the English half's commands differ from the Chinese half's")
for i, b in enumerate(blocks(zh)):
    open(f"{sys.argv[2]}/{i:02d}.sh", "w", encoding="utf-8").write(b)
print(len(blocks(zh)), "blocks")
PY

wait_for() { # $1 file, $2 text, $3 what
    for _ in $(seq 1 600); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    fail "$3: \"$2\" did not appear in $1"
}
dir_of() { case "$1" in *"server 文件夹"*) echo "$srv" ;; *"client_wy 文件夹"*) echo "$cli" ;; *) fail "no folder in: $1" ;; esac; }

declare -A group_of   # server_key, server, attack_lab, chat -> process group
declare -A fifo_fd    # attack_lab, chat -> write end of its stdin
n=0
start_bg() { # $1 role, $2 folder, $3 command
    local role=$1 log="$tmp/log/$1.$n"
    if [ -n "${group_of[$role]:-}" ]; then
        kill -INT -- "-${group_of[$role]}" 2>/dev/null || true
        while kill -0 -- "-${group_of[$role]}" 2>/dev/null; do sleep 0.1; done
    fi
    local input=/dev/null
    if [ "$role" = attack_lab ] || [ "$role" = chat ]; then
        input="$tmp/$role.$n.fifo"; mkfifo "$input"
        local fd; exec {fd}<>"$input"; fifo_fd[$role]=$fd
    fi
    (cd "$2" && exec setsid bash -c "$3" <"$input" >"$log" 2>&1) &
    group_of[$role]=$!; groups+=($!)
    eval "log_$role=\$log"
    case "$role" in
        chat) wait_for "$log" "已登录" "the chat client logging in" ;;
        *) wait_for "$log" "listening on" "$role starting" ;;
    esac
}

for f in "$tmp"/blocks/*.sh; do
    n=$((n + 1))
    head=$(head -n1 "$f")
    body=$(tail -n +2 "$f" | ports)
    case "$head" in
        *"新终端"*)
            case "$body" in
                *attack_lab*) role=attack_lab ;;
                *" cli"*) role=chat ;;
                *server_key*) role=server_key ;;
                *./server*) role=server ;;
                *) fail "unknown long-running command: $body" ;;
            esac
            start_bg "$role" "$(dir_of "$head")" "$body"
            continue ;;
        *"在 attack_lab 中输入"*) role=attack_lab ;;
        *"在聊天中输入"*) role=chat ;;
        *) role= ;;
    esac
    if [ -n "$role" ]; then
        printf '%s\n' "$body" >&"${fifo_fd[$role]}"
        log=$(eval echo "\$log_$role")
        case "$body" in
            substitute-server-key) wait_for "$log" "armed: substitute the server key" "arming the key substitution" ;;
            "drop 0002") wait_for "$log" "armed: drop the next 0002 frame" "arming the drop" ;;
            quit) while kill -0 -- "-${group_of[attack_lab]}" 2>/dev/null; do sleep 0.1; done; unset 'group_of[attack_lab]' ;;
            *第二条*)
                # The server ends the session: the client says why and exits 2.
                wait "${group_of[chat]}" && status=0 || status=$?
                [ "$status" -eq 2 ] || fail "the chat client exited $status, not 2"
                grep -qF "你发出的消息有一条没有到达服务器" "$log" || fail "no FRAME_LOST text in the chat"
                grep -qF "已丢弃一个 0002 帧" "$log_attack_lab" || fail "attack_lab did not say it dropped"
                echo "lesson-test: a dropped 0002 ended the session with FRAME_LOST" ;;
        esac
        continue
    fi

    # A block that runs to completion, then what it must have shown.
    log="$tmp/log/block.$n"
    key_before=$(sha256sum "$cli/session_key.txt" 2>/dev/null || true)
    (cd "$(dir_of "$head")" && bash -o pipefail -c "$body") >"$log" 2>&1 && status=0 || status=$?
    case "$body" in
        *"key --trace --show-secrets"*)
            [ "$status" -eq 0 ] || fail "the key step failed"
            grep -q "VALID" "$cli/key.txt" || fail "no signature check in the trace" ;;
        *"xxd -p > k.hex"*)
            [ "$status" -eq 0 ] || fail "unwrapping k with openssl failed"
            traced=$(sed -n 's/.*one-time key k ([^)]*): \([0-9a-f]*\) .*/\1/p' "$cli/key.txt")
            [ -n "$traced" ] && [ "$(cat "$cli/k.hex")" = "$traced" ] || fail "openssl's k $(cat "$cli/k.hex") is not the traced k '$traced'"
            echo "lesson-test: openssl unwrapped k = $traced, as traced" ;;
        *"openssl enc -d -des-cbc"*)
            [ "$status" -eq 0 ] || fail "decrypting the material with openssl failed"
            material=$(head -n1 "$log")
            for k in key_id expires_at des_key mac_key; do
                v=$(sed -n "s/^$k = \"\(.*\)\"/\1/p" "$cli/session_key.txt")
                grep -qF "|$v" <<<"$material" || fail "$k $v not in the material '$material'"
            done
            echo "lesson-test: the material openssl decrypted holds session_key.txt's key_id, expiry and keys" ;;
        *"key --config attack.toml"*)
            [ "$status" -ne 0 ] || fail "the key step through attack_lab succeeded"
            [ "$(sha256sum "$cli/session_key.txt")" = "$key_before" ] || fail "session_key.txt changed"
            if grep -qF "已翻转 1101 帧第 4 字段的第 17 位" "$log_attack_lab" && ! grep -qF "已把 1100" "$log_attack_lab"; then
                grep -qF "收到的数字信封没有通过校验" "$log" || fail "no envelope refusal: $(cat "$log")"
                echo "lesson-test: a flipped bit in the 1101 was refused"
            else
                grep -qF "已把 1100 帧里的服务器公钥" "$log_attack_lab" || fail "attack_lab did not substitute the key"
                grep -qF "服务器的身份和以前不一样" "$log" || fail "no key mismatch refusal: $(cat "$log")"
                echo "lesson-test: a substituted server key was refused"
            fi ;;
        *"grep -E '^(expires_at|created_at)'"*)
            [ "$status" -eq 0 ] || fail "the key step with session_ttl = 2m failed"
            python3 - "$log" <<'PY' || fail "the key does not last 2 minutes"
import re, sys
from datetime import datetime
t = dict(re.findall(r'^(\w+) = "(.*)"', open(sys.argv[1]).read(), re.M))
p = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
life = (p(t["expires_at"]) - p(t["created_at"])).total_seconds()
sys.exit(0 if 115 <= life <= 121 else f"lifetime {life} s")
PY
            echo "lesson-test: with session_ttl = \"2m\" the key expires 2 minutes after it was made" ;;
        *) [ "$status" -eq 0 ] || fail "block $n failed: $body" ;;
    esac
done
echo "lesson-test: PASS ($n blocks of docs/LESSON.md)"
