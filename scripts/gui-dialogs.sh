#!/usr/bin/env bash
# Every error a student meets in the GUI, in Chinese and in English, on screen (issue 12).
#
#   scripts/gui-dialogs.sh
#
# Real servers, real client windows under Xvfb, each mistake made the way it happens in a lab:
#   wrong_password   a wrong password typed                           -> dialog
#   slow_down        the fourth wrong password in a row (user2)       -> dialog
#   unreachable      chat_port where nothing listens                  -> dialog (host, port, firewall)
#   key_missing      no session_key.txt                               -> dialog offering the key step
#   key_expired      a session_key.txt past its expiry                -> dialog offering the key step
#   key_replaced     the key step run again in another folder         -> dialog offering the key step
#   server_full      a chat server with max_connections = 1, occupied -> dialog
#   elsewhere        the same account logs in from a terminal         -> line in the chat window
#   clock_fast       this PC's clock 2 days fast (faketime)           -> line in the chat window
#   not_twice        a key server whose clock is 2 days behind the chat server's: the key step is
#                    offered once, run, and then NOT offered again    -> dialog naming the clocks
#   keyview          `client_wy key --gui`: the key-step view (密钥分发过程), first contact, with
#                    the teaching switch on (k, the DES and MAC keys shown)
#   keyview_mismatch the same with a server_public.pem of another server pinned: the refusal in red
#   keyview_substituted  attack_lab in the middle substitutes the server key in 1100: refused
#   keyview_tampered     attack_lab flips one bit of the sealed material in 1101: bad signature
#   chat_tampered    attack_lab flips a bit of a 1002 on its way to the window: a warning line
#   chat_dropped     attack_lab drops a 1002: the next frame shows the gap, the session ends
#   chat_replayed    attack_lab sends a 1002 twice: the copy is refused (warning line)
#   cancel           a chat port that accepts and never answers: 取消 -> status line
#                    (logging_in: the window while it waits, 取消 on the left button)
# Each case checks the text (in the window's language, no Chinese in the English one) and
# takes a screenshot: target/gui-test/dialog_<case>_<zh|en>.png. Last line: `gui-dialogs: PASS`.
set -uo pipefail
export LC_ALL=C.UTF-8

cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/gui-test"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
WAIT_SECS="${GUI_TEST_WAIT_SECS:-30}"
PASSWORD=111111

VERDICT="FAIL interrupted"
TMP=""
PIDS=()

# stop PID: the process and its children (faketime runs its program as a child).
stop() {
    pkill -TERM -P "$1" 2>/dev/null
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

cleanup() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop "${PIDS[i]}"
    done
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        mkdir -p "$OUT/dialogs"
        cp "$TMP"/*.log "$TMP"/*.err "$OUT/dialogs/" 2>/dev/null
        rm -rf "$TMP"
    fi
    echo "gui-dialogs: $VERDICT"
    [ "$VERDICT" = PASS ]
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    VERDICT="FAIL $*"
    exit 1
}
step() { echo "gui-dialogs: $*"; }

. scripts/lib/wait.sh

mkdir -p "$OUT"
rm -f "$OUT"/dialog_*.png
scripts/bootstrap.sh >/dev/null || fail "scripts/bootstrap.sh failed"
command -v faketime >/dev/null || fail "faketime missing (scripts/bootstrap.sh installs it)"
cargo build -q -p server -p server_key -p client_wy --bins || fail "cargo build failed"
TMP=$(mktemp -d -t minichat-dialogs.XXXXXX) || fail "mktemp failed"

unset WAYLAND_DISPLAY
Xvfb -displayfd 3 -screen 0 1600x900x24 -nolisten tcp 3>"$TMP/display" >"$TMP/xvfb.log" 2>&1 &
PIDS+=($!)
wait_until 15 "Xvfb to start" test -s "$TMP/display"
export DISPLAY=":$(head -n1 "$TMP/display")"

# ------------------------------------------------------------------ servers
# start NAME PORT_VAR [PREFIX...] -- ARGS...: a server on a free port (@PORT@ in ARGS).
start() {
    local name=$1 port_var=$2 port pid
    shift 2
    local prefix=()
    while [ "$1" != -- ]; do prefix+=("$1"); shift; done
    shift
    for _ in 1 2 3 4 5; do
        port=$(free_port) || fail "no free port"
        "${prefix[@]}" "$BIN/${name%%-*}" "${@//@PORT@/$port}" >"$TMP/$name.log" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        local deadline=$((SECONDS + 30))
        while ! listening "$port" && alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
        if listening "$port" && alive "$pid"; then
            printf -v "$port_var" '%s' "$port"
            return 0
        fi
        kill "$pid" 2>/dev/null
    done
    fail "$name did not start (see $OUT/dialogs/$name.log)"
}
# servers DIR NAME_SUFFIX KEYPORT_VAR CHATPORT_VAR MAXCONN [PREFIX for server_key...]
servers() {
    local dir=$1 sfx=$2 kv=$3 cv=$4 max=$5
    shift 5
    mkdir -p "$dir"
    printf 'key_dir = "%s/keys"\n' "$dir" >"$dir/server_key.toml"
    printf 'session_key_dir = "%s/keys/sessions"\nmax_connections = %s\n' "$dir" "$max" >"$dir/server.toml"
    start "server_key-$sfx" "$kv" "$@" -- --config "$dir/server_key.toml" --listen "127.0.0.1:@PORT@"
    start "server-$sfx" "$cv" -- --config "$dir/server.toml" --listen "127.0.0.1:@PORT@" \
        --database "sqlite://$dir/users.db"
}
servers "$TMP/main" main KEY_PORT CHAT_PORT 1000
servers "$TMP/full" full FULL_KEY_PORT FULL_CHAT_PORT 1
# A key server whose clock is two days behind the chat server's (both on this PC: faketime).
servers "$TMP/skew" skew SKEW_KEY_PORT SKEW_CHAT_PORT 1000 env FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f -2d
step "servers: main $KEY_PORT/$CHAT_PORT, full $FULL_CHAT_PORT, clock-skewed key server $SKEW_KEY_PORT"
# A chat port that accepts connections and never answers (a hung or wrong service).
SILENT_PORT=$(free_port) || fail "no free port"
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $SILENT_PORT)); s.listen(8)
held = []
while True:
    c, _ = s.accept(); held.append(c)
" &
PIDS+=($!)
wait_until 10 "the silent port" listening "$SILENT_PORT"

# ------------------------------------------------------------------ client folders
# folder NAME USER LANG KEYPORT CHATPORT [key]: a client folder (with a key step when asked).
# One student, one PC: a user's folders share one client key pair per key server (the key
# server binds a username to the first key it sees).
folder() {
    local d="$TMP/$1" pems="$TMP/pems_$2_$4"
    mkdir -p "$d"
    printf 'server_host = "127.0.0.1"\nkey_port = %s\nchat_port = %s\nusername = "%s"\nlanguage = "%s"\n' \
        "$4" "$5" "$2" "$3" >"$d/client.toml"
    [ -d "$pems" ] && cp "$pems"/*.pem "$d/"
    if [ "${6:-}" = key ]; then
        "$BIN/client_wy" key --config "$d/client.toml" >"$TMP/key_$1.log" 2>&1 \
            || fail "key step for $1 failed: $(tail -n1 "$TMP/key_$1.log")"
        if [ ! -d "$pems" ]; then
            mkdir -p "$pems" && cp "$d"/*.pem "$pems/"
        fi
    fi
}

# gui NAME [PREFIX...]: start the GUI of folder NAME; sets GUI_PID and LOGIN_XID.
gui() {
    local name=$1
    shift
    rm -f "$TMP/$name.log" "$TMP/$name.err"
    MINICHAT_GUI_TEST=1 MINICHAT_GUI_LOG="$TMP/$name.log" \
        "$@" "$BIN/client_wy" --config "$TMP/$name/client.toml" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    GUI_PID=$!
    PIDS+=("$GUI_PID")
    wait_until "$WAIT_SECS" "the login window of $name" grep -qs '^GUI-WINDOW login ' "$TMP/$name.err"
    LOGIN_XID=$(grep -m1 '^GUI-WINDOW login ' "$TMP/$name.err" | awk '{print $3}')
    wait_until 10 "the login window of $name to be mapped" sh -c "xwininfo -id $LOGIN_XID | grep -q IsViewable"
    xdotool windowmove "$LOGIN_XID" 500 250
    sleep 0.3
}
type_login() { # PASSWORD
    xdotool windowfocus --sync "$LOGIN_XID" || fail "cannot focus the login window"
    sleep 0.2
    xdotool type --delay 15 "$1"
    xdotool key Return
}
dialogs() {
    local n
    n=$(grep -c '^# dialog: ' "$TMP/$1.log" 2>/dev/null)
    echo "${n:-0}"
}
has_dialogs() { [ "$(dialogs "$1")" -ge "$2" ]; }
last_dialog() { grep '^# dialog: ' "$TMP/$1.log" | tail -n1; }
log_has() { grep -qF -- "$2" "$TMP/$1.log" 2>/dev/null; }

# check_lang LANG TEXT: Chinese text in the zh window, none in the en one.
check_lang() {
    if [ "$1" = zh ]; then
        printf '%s' "$2" | grep -qP '\p{Han}' || fail "no Chinese in a zh text: $2"
    else
        ! printf '%s' "$2" | grep -qP '\p{Han}' || fail "Chinese in an en text: $2"
    fi
}
shot() { # CASE LANG
    sleep 0.6
    import -window root -crop 1300x620+150+100 +repage "$OUT/dialog_$1_$2.png" || fail "screenshot failed"
}
end_gui() {
    stop "$GUI_PID"
}
# expect_dialog CASE LANG NAME N PATTERN_ZH PATTERN_EN: the Nth dialog of NAME matches.
expect_dialog() {
    local case=$1 lang=$2 name=$3 n=$4 text
    wait_until "$WAIT_SECS" "dialog $n of $case ($lang)" has_dialogs "$name" "$n"
    text=$(last_dialog "$name")
    check_lang "$lang" "$text"
    local want=$5
    [ "$lang" = en ] && want=$6
    printf '%s' "$text" | grep -qF -- "$want" || fail "$case ($lang): dialog lacks '$want': $text"
    shot "$case" "$lang"
}
# chat_line CASE LANG NAME PATTERN_ZH PATTERN_EN: a line in NAME's chat window.
chat_line() {
    local case=$1 lang=$2 name=$3 want=$4 xid
    [ "$lang" = en ] && want=$5
    wait_until "$WAIT_SECS" "'$want' in the chat window of $name" log_has "$name" "$want"
    xid=$(grep -m1 '^GUI-WINDOW chat ' "$TMP/$name.err" | awk '{print $3}')
    [ -n "$xid" ] && xdotool windowmove "$xid" 300 150
    shot "$case" "$lang"
}

for L in zh en; do
    # zh runs as user1, en as user3 (user2 takes the wrong passwords and fills the full server)
    U="user$([ "$L" = zh ] && echo 1 || echo 3)"

    # wrong password
    folder "wp_$L" "$U" "$L" "$KEY_PORT" "$CHAT_PORT" key
    gui "wp_$L"
    type_login "not-the-password"
    expect_dialog wrong_password "$L" "wp_$L" 1 "用户名或密码不对" "Wrong username or password"
    end_gui

    # too many wrong passwords in a row (user2; its budget is 3, see server/src/throttle.rs)
    folder "sd_$L" user2 "$L" "$KEY_PORT" "$CHAT_PORT" key
    gui "sd_$L"
    for i in 1 2 3 4; do
        type_login "wrong-$i"
        wait_until "$WAIT_SECS" "dialog $i of slow_down" has_dialogs "sd_$L" "$i"
        if [ "$i" -lt 4 ]; then sleep 0.3; xdotool key Return; sleep 0.3; fi
    done
    expect_dialog slow_down "$L" "sd_$L" 4 "密码错误的次数太多了" "Too many wrong passwords"
    end_gui
    "$BIN/server" user unlock user2 --config "$TMP/main/server.toml" --database "sqlite://$TMP/main/users.db" \
        >/dev/null 2>&1 || true

    # unreachable chat server
    DEAD=$(free_port) || fail "no free port"
    folder "ur_$L" "$U" "$L" "$KEY_PORT" "$DEAD"
    cp "$TMP/wp_$L/session_key.txt" "$TMP/wp_$L/server_public.pem" "$TMP/ur_$L/"
    gui "ur_$L"
    type_login "$PASSWORD"
    expect_dialog unreachable "$L" "ur_$L" 1 "防火墙放行了 TCP 端口 $DEAD" "firewall allows TCP port $DEAD"
    end_gui

    # no session key: the key step is offered
    folder "km_$L" "$U" "$L" "$KEY_PORT" "$CHAT_PORT"
    gui "km_$L"
    type_login "$PASSWORD"
    expect_dialog key_missing "$L" "km_$L" 1 "session_key.txt" "session_key.txt"
    end_gui

    # expired session key (the file says so; nobody edits it in real life, the clock passes it)
    folder "ke_$L" "$U" "$L" "$KEY_PORT" "$CHAT_PORT"
    cp "$TMP/wp_$L/client_private.pem" "$TMP/wp_$L/client_public.pem" "$TMP/wp_$L/server_public.pem" "$TMP/ke_$L/"
    sed 's/^expires_at = .*/expires_at = "2020-01-01T00:00:00Z"/' "$TMP/wp_$L/session_key.txt" >"$TMP/ke_$L/session_key.txt"
    gui "ke_$L"
    type_login "$PASSWORD"
    expect_dialog key_expired "$L" "ke_$L" 1 "过期" "expired"
    end_gui

    # the key step run again elsewhere: this folder's key is stale
    folder "kr_$L" "$U" "$L" "$KEY_PORT" "$CHAT_PORT"
    cp "$TMP/wp_$L"/*.pem "$TMP/wp_$L/session_key.txt" "$TMP/kr_$L/"
    folder "kr2_$L" "$U" "$L" "$KEY_PORT" "$CHAT_PORT"
    cp "$TMP/wp_$L"/*.pem "$TMP/kr2_$L/"
    "$BIN/client_wy" key --config "$TMP/kr2_$L/client.toml" >/dev/null 2>&1 || fail "second key step failed"
    gui "kr_$L"
    type_login "$PASSWORD"
    expect_dialog key_replaced "$L" "kr_$L" 1 "服务器不接受你的会话密钥" "does not accept your session key"
    end_gui
    cp "$TMP/kr2_$L/session_key.txt" "$TMP/wp_$L/session_key.txt"

    # server full: its only place is taken by a terminal client
    folder "sf_$L" "$U" "$L" "$FULL_KEY_PORT" "$FULL_CHAT_PORT" key
    folder "occ_$L" user2 "$L" "$FULL_KEY_PORT" "$FULL_CHAT_PORT" key
    # Its input stays open (a FIFO held by this script) until the case is over.
    mkfifo "$TMP/occ_$L.in"
    CHAT_PASSWORD=$PASSWORD "$BIN/client_wy" cli --config "$TMP/occ_$L/client.toml" \
        <"$TMP/occ_$L.in" >"$TMP/occ_$L.log" 2>&1 &
    OCC=$!
    PIDS+=("$OCC")
    exec 4>"$TMP/occ_$L.in"
    wait_until "$WAIT_SECS" "the terminal client to occupy the full server" grep -qs "logged in as\|已登录" "$TMP/occ_$L.log"
    gui "sf_$L"
    type_login "$PASSWORD"
    expect_dialog server_full "$L" "sf_$L" 1 "聊天服务器已满" "The chat server is full"
    end_gui
    exec 4>&- # end of its input: it logs out and exits
    wait "$OCC"

    # logged in elsewhere: the same account from a terminal
    gui "wp_$L"
    type_login "$PASSWORD"
    wait_until "$WAIT_SECS" "the chat window of wp_$L" grep -qs '^GUI-WINDOW chat ' "$TMP/wp_$L.err"
    echo "" | CHAT_PASSWORD=$PASSWORD "$BIN/client_wy" cli --config "$TMP/wp_$L/client.toml" >"$TMP/elsewhere_$L.log" 2>&1
    chat_line elsewhere "$L" "wp_$L" "这个账号在别的窗口或电脑上登录了" "This account logged in from another window or PC"
    end_gui

    # this PC's clock two days fast: the key step and the login work, the chat window says so
    folder "cf_$L" "$U" "$L" "$KEY_PORT" "$CHAT_PORT"
    cp "$TMP/wp_$L"/*.pem "$TMP/cf_$L/"
    gui "cf_$L" env FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f +2d
    type_login "$PASSWORD"
    expect_dialog clock_offer "$L" "cf_$L" 1 "session_key.txt" "session_key.txt"
    xdotool key Return # run the key step
    chat_line clock_fast "$L" "cf_$L" "你的电脑时钟比服务器快 2 天" "Your computer's clock is 2 days ahead"
    end_gui

    # servers whose clocks differ: the chat server finds every key from this key server expired;
    # the key step is offered once, run, and then not offered again for the same problem
    folder "nt_$L" "$U" "$L" "$SKEW_KEY_PORT" "$SKEW_CHAT_PORT" key
    gui "nt_$L"
    type_login "$PASSWORD"
    expect_dialog not_twice_offer "$L" "nt_$L" 1 "你的会话密钥已过期" "Your session key has expired"
    xdotool key Return # run the key step: the new key is already expired by the chat server's clock
    expect_dialog not_twice "$L" "nt_$L" 2 "再获取一次也没有用" "Fetching another will not help"
    end_gui

    # the key-step view: a first key step in a new folder, then with the wrong server key pinned
    keyview() { # NAME CASE WANT_ZH WANT_EN EXIT
        rm -f "$TMP/$1.log" "$TMP/$1.err"
        MINICHAT_GUI_TEST=1 MINICHAT_GUI_LOG="$TMP/$1.log" \
            "$BIN/client_wy" key --gui --config "$TMP/$1/client.toml" >"$TMP/$1.out" 2>"$TMP/$1.err" &
        GUI_PID=$!
        PIDS+=("$GUI_PID")
        wait_until "$WAIT_SECS" "the key-step view of $1" grep -qs '^GUI-WINDOW keyview ' "$TMP/$1.err"
        local xid want=$3
        [ "$L" = en ] && want=$4
        xid=$(grep -m1 '^GUI-WINDOW keyview ' "$TMP/$1.err" | awk '{print $3}')
        wait_until "$WAIT_SECS" "'$want' in the key-step view of $1" log_has "$1" "$want"
        check_lang "$L" "$(grep '^# keyview: ' "$TMP/$1.log" | head -n1)"
        xdotool windowmove "$xid" 200 120
        sleep 0.3
        xdotool mousemove --window "$xid" 30 594 click 1 # 显示密钥（仅用于教学）
        sleep 0.6
        import -window "$xid" "$OUT/dialog_$2_$L.png" || fail "screenshot failed"
        xdotool mousemove --window "$xid" 800 596 click 1 # 关闭 / Close
        wait "$GUI_PID"
        [ "$?" = "$5" ] || fail "$2 ($L): client_wy key --gui exited with another status than $5"
    }
    folder "kv_$L" "$U" "$L" "$KEY_PORT" "$CHAT_PORT"
    rm "$TMP/kv_$L/server_public.pem" # first contact: the server key is pinned by this run
    keyview "kv_$L" keyview "签名验证通过" "Signature valid" 0
    grep -q "^# keyview: .*1101" "$TMP/kv_$L.log" || fail "keyview ($L): no 1101 row"
    folder "kvm_$L" "$U" "$L" "$KEY_PORT" "$CHAT_PORT"
    cp "$TMP/nt_$L/server_public.pem" "$TMP/kvm_$L/" # the clock-skewed key server's key
    keyview "kvm_$L" keyview_mismatch "中间人攻击" "man in the middle" 1

    # the attack lab in the middle of a key step: the server key substituted, then one bit of the
    # envelope's sealed material flipped (field 4 of 1101)
    for attack in substituted tampered; do
        ATTACK_PORT=$(free_port) || fail "no free port"
        if [ "$attack" = substituted ]; then how=(--substitute-server-key); else how=(--flip 1101:4); fi
        "$BIN/attack_lab" --listen "127.0.0.1:$ATTACK_PORT" --to "127.0.0.1:$KEY_PORT" "${how[@]}" \
            </dev/null >"$TMP/attack_${attack}_$L.log" 2>&1 &
        ATTACK_PID=$!
        PIDS+=("$ATTACK_PID")
        # Wait for its own line, not with a probe connection: a probe would be proxied to the key
        # server, whose 1100 would use up the armed substitution (the client then sees the real key).
        wait_until 10 "attack_lab on $ATTACK_PORT" grep -qs "listening on" "$TMP/attack_${attack}_$L.log"
        folder "kva_${attack}_$L" "$U" "$L" "$ATTACK_PORT" "$CHAT_PORT"
        cp "$TMP/pems_${U}_$KEY_PORT"/*.pem "$TMP/kva_${attack}_$L/" # this student's folder: the server key pinned
        if [ "$attack" = substituted ]; then
            keyview "kva_${attack}_$L" keyview_substituted "中间人攻击" "man in the middle" 1
        else
            keyview "kva_${attack}_$L" keyview_tampered "路上被改动" "changed on the way" 1
        fi
        stop "$ATTACK_PID"
    done

    # the attack lab in the middle of a chat session: a 1002 to the window changed, or deleted
    OTHER="user$([ "$L" = zh ] && echo 3 || echo 1)"
    folder "snd_$L" "$OTHER" "$L" "$KEY_PORT" "$CHAT_PORT" key
    for attack in tampered dropped replayed; do
        ATTACK_PORT=$(free_port) || fail "no free port"
        case $attack in
            tampered) how=(--flip 1002) ;;
            dropped) how=(--drop 1002) ;;
            replayed) how=(--replay 1002) ;;
        esac
        "$BIN/attack_lab" --listen "127.0.0.1:$ATTACK_PORT" --to "127.0.0.1:$CHAT_PORT" "${how[@]}" \
            </dev/null >"$TMP/attack_chat_${attack}_$L.log" 2>&1 &
        ATTACK_PID=$!
        PIDS+=("$ATTACK_PID")
        wait_until 10 "attack_lab on $ATTACK_PORT" grep -qs "listening on" "$TMP/attack_chat_${attack}_$L.log"
        folder "ca_${attack}_$L" "$U" "$L" "$KEY_PORT" "$ATTACK_PORT" key
        gui "ca_${attack}_$L"
        type_login "$PASSWORD"
        wait_until "$WAIT_SECS" "the chat window of ca_${attack}_$L" grep -qs '^GUI-WINDOW chat ' "$TMP/ca_${attack}_$L.err"
        printf 'first\nsecond\n' | CHAT_PASSWORD=$PASSWORD "$BIN/client_wy" cli --config "$TMP/snd_$L/client.toml" \
            >"$TMP/snd_${attack}_$L.log" 2>&1 || fail "the sender of chat_$attack failed: $(tail -n1 "$TMP/snd_${attack}_$L.log")"
        case $attack in
            dropped) chat_line chat_dropped "$L" "ca_${attack}_$L" "有消息在网络上丢失了" "A message was lost on the network" ;;
            *) chat_line "chat_$attack" "$L" "ca_${attack}_$L" "丢弃了一个未通过校验" "dropped a frame that failed its checks" ;;
        esac
        end_gui
        stop "$ATTACK_PID"
    done

    # cancel a login that hangs
    folder "cl_$L" "$U" "$L" "$KEY_PORT" "$SILENT_PORT"
    cp "$TMP/wp_$L"/*.pem "$TMP/wp_$L/session_key.txt" "$TMP/cl_$L/"
    gui "cl_$L"
    type_login "$PASSWORD"
    sleep 1
    shot logging_in "$L" # 正在登录… with 取消 on the left button
    xdotool mousemove --window "$LOGIN_XID" 132 189 click 1 # the left button: 取消 while logging in
    if [ "$L" = zh ]; then WANT="已取消登录"; else WANT="Login cancelled"; fi
    wait_until 10 "the cancelled status" log_has "cl_$L" "# status: $WANT"
    shot cancel "$L"
    alive "$GUI_PID" || fail "the client exited after cancel"
    end_gui
    step "$L: every case shown"
done

VERDICT=PASS
