#!/usr/bin/env bash
# A class of forty, end to end with the real programs: a 40-student roster (Chinese nicknames,
# no passwords: the import makes them) goes through `scripts/dist.sh --roster`, which must write
# 40 student folders and the class sheet. Each folder is copied to its own "PC" directory and run
# from another working directory: the key step (8 at a time, as the key server allows from one
# address), then all forty log in at once with the initial password from the class sheet, are
# made to choose their own password (CHAT_NEW_PASSWORD), and each sends one message once all are
# online. Fails unless every student receives every student's message exactly once; then checks
# that the initial password no longer works and the new one logs in without being asked again.
#
#   scripts/class-test.sh            (debug build; run by scripts/test.sh)
#   STUDENTS=10 scripts/class-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
n=${STUDENTS:-40}
tmp=$(mktemp -d -t minichat-class.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "class-test: FAIL: $*"; exit 1; }

students=()
{
    echo "username,nickname"
    for i in $(seq -w 1 "$n"); do echo "s$i,学生$i"; students+=("s$i"); done
} >"$tmp/roster.csv"

DIST_DIR="$tmp/dist" scripts/dist.sh --debug --roster "$tmp/roster.csv" >"$tmp/dist.log" 2>&1 ||
    { cat "$tmp/dist.log"; fail "dist.sh"; }
made=$(find "$tmp/dist" -maxdepth 1 -type d -name 'client_s*' | wc -l)
[ "$made" -eq "$n" ] || fail "dist.sh made $made student folders, expected $n"
[ -f "$tmp/dist/passwords.csv" ] || fail "no class sheet dist/passwords.csv"
[ "$(stat -c %a "$tmp/dist/passwords.csv")" = 600 ] || fail "the class sheet is not mode 0600"
echo "class-test: dist.sh made $made student folders and the class sheet ($SECONDS s)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kp=$(free_port); cp_=$(free_port)
mv "$tmp/dist/server" "$tmp/teacher-pc"
"$tmp/teacher-pc/server_key" --config "$tmp/teacher-pc/server_key.toml" --listen "127.0.0.1:$kp" >"$tmp/sk.log" 2>&1 &
pids+=($!)
"$tmp/teacher-pc/server" --config "$tmp/teacher-pc/server.toml" --listen "127.0.0.1:$cp_" >"$tmp/srv.log" 2>&1 &
pids+=($!)
wait_port() {
    for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    cat "$tmp/sk.log" "$tmp/srv.log"; fail "nothing listens on port $1 after 60 s"
}
wait_port "$kp"; wait_port "$cp_"

# The class sheet: UTF-8 with a BOM, username,nickname,password.
python3 - "$tmp/dist/passwords.csv" "$tmp/initial" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig")))
assert rows[0] == ["username", "nickname", "password"], rows[0]
with open(sys.argv[2], "w") as out:
    for user, _nick, pw in rows[1:]:
        out.write(f"{user} {pw}\n")
EOF
initial() { awk -v u="$1" '$1 == u { print $2 }' "$tmp/initial"; }

for u in "${students[@]}"; do
    pc="$tmp/pc-$u/Desktop"
    mkdir -p "$pc"
    cp -r "$tmp/dist/client_$u" "$pc/"
    # server_host set by hand (dist-test.sh covers "auto"): forty PCs here share one address.
    sed -i -e "s/^chat_port = .*/chat_port = $cp_/" -e "s/^key_port = .*/key_port = $kp/" \
        -e 's/^server_host = .*/server_host = "127.0.0.1"/' "$pc/client_$u/client.toml"
    [ -n "$(initial "$u")" ] || fail "no initial password for $u in the class sheet"
done

cd /  # another working directory: each client must find its folder beside itself
export tmp
printf '%s\n' "${students[@]}" |
    xargs -P 8 -I{} sh -c '"$tmp/pc-{}/Desktop/client_{}/client_{}" key >"$tmp/key-{}.log" 2>&1 || { echo "key step of {} failed:"; cat "$tmp/key-{}.log"; exit 255; }' ||
    fail "key steps"
echo "class-test: $n key steps done ($SECONDS s)"

# All log in at once; each sends once everybody is online ($tmp/go), then stays until it has
# received all n messages (or 120 s passed).
for u in "${students[@]}"; do
    (
        for _ in $(seq 1 1200); do [ -e "$tmp/go" ] && break; sleep 0.1; done
        echo "hello from $u 你好"
        for _ in $(seq 1 1200); do
            [ "$(grep -c 'hello from s' "$tmp/out-$u" 2>/dev/null)" -ge "$n" ] && break
            sleep 0.1
        done
    ) | CHAT_PASSWORD="$(initial "$u")" CHAT_NEW_PASSWORD="own-$u-secret" \
        "$tmp/pc-$u/Desktop/client_$u/client_$u" cli >"$tmp/out-$u" 2>"$tmp/err-$u" &
    pids+=($!)
done
online=0
for _ in $(seq 1 1200); do
    online=$( (grep -l "已登录" "$tmp"/err-s* 2>/dev/null || true) | wc -l)
    [ "$online" -eq "$n" ] && break
    sleep 0.1
done
[ "$online" -eq "$n" ] || { for u in "${students[@]}"; do grep -q "已登录" "$tmp/err-$u" || { echo "--- $u"; cat "$tmp/err-$u"; }; done; fail "only $online of $n logged in"; }
changed=$( (grep -l "密码已修改" "$tmp"/err-s* || true) | wc -l)
[ "$changed" -eq "$n" ] || fail "only $changed of $n were made to change their password"
echo "class-test: $n students logged in at once, each chose a new password"
touch "$tmp/go"
for p in "${pids[@]:2}"; do wait "$p" || true; done
pids=("${pids[@]:0:2}")

bad=0
for u in "${students[@]}"; do
    for v in "${students[@]}"; do
        c=$(grep -c "^\[..:..:..\] 学生${v#s}: hello from $v 你好\$" "$tmp/out-$u" || true)
        if [ "$c" -ne 1 ]; then
            echo "class-test: $u received the message of $v $c times"; bad=$((bad + 1))
        fi
    done
done
[ "$bad" -eq 0 ] || { echo "--- out-${students[0]}"; cat "$tmp/out-${students[0]}"; fail "$bad missing or duplicated deliveries"; }
echo "class-test: every student received every student's message exactly once ($((n * n)) deliveries)"

# The initial password is gone; the new one logs in without being asked to change it again.
u=${students[0]}
if echo | CHAT_PASSWORD="$(initial "$u")" "$tmp/pc-$u/Desktop/client_$u/client_$u" cli >/dev/null 2>"$tmp/old-$u"; then
    fail "$u logged in with the initial password after changing it"
fi
grep -q "用户名或密码不对" "$tmp/old-$u" || { cat "$tmp/old-$u"; fail "the old password's refusal does not say why"; }
echo | CHAT_PASSWORD="own-$u-secret" "$tmp/pc-$u/Desktop/client_$u/client_$u" cli >/dev/null 2>"$tmp/new-$u" ||
    { cat "$tmp/new-$u"; fail "$u cannot log in with the new password"; }
if grep -q "新密码" "$tmp/new-$u"; then cat "$tmp/new-$u"; fail "$u was asked for a new password again"; fi
cd "$root"
echo "class-test: PASS"
