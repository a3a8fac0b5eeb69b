#!/usr/bin/env bash
# Build the programs and lay out portable folders under dist/:
#   dist/server/             server, server_key, attack_lab (the lab's attacker), server.toml,
#                            server_key.toml, sql/, keys/, data/
#   dist/client_<user>/      one per user of the chat server: client_<user> (the client program,
#                            named after its folder), client.toml (server_host = "auto" or
#                            --host, both ports, discovery_port, username), server_public.pem, a client key pair registered with
#                            server_key, README.txt (中文, then English), 实验指导.md (the lab
#                            guide, docs/LESSON.md)
#   dist/client_<user>.zip   the same folder, zipped, to hand out by USB stick or shared drive
#   dist/passwords.csv       the class sheet (initial passwords of imported users), if any
# The seed users keep their folder names client_wy (user1), client_dz (user2), client_cxk (user3).
#
#   scripts/dist.sh                                  server_host = "auto": clients find the
#                                                    teacher's PC on the LAN (UDP 8092)
#   scripts/dist.sh --host 192.168.1.10              host = the teacher PC as students reach it
#   scripts/dist.sh --host 192.168.1.10 --roster class.xlsx   import the roster first
#   scripts/dist.sh --debug ...                       reuse the test build (scripts/dist-test.sh)
#   DIST_DIR=/path scripts/dist.sh ...
#
# Run it again after importing more students or to change --host: dist/server's database, keys,
# configs and registered client keys are kept; folders are added, and existing ones updated
# (program, client.toml, server_public.pem, README) without touching their key pair.
# server_key runs with registration = "strict": only the keys made here get session keys, so no
# student can claim another's username.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh >/dev/null
export PATH="/usr/local/bin:$PATH"

profile=dist
host=auto
roster=
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) profile=debug ;;
        --host) host="${2:?--host needs an address}"; shift ;;
        --host=*) host="${1#--host=}" ;;
        --roster) roster="${2:?--roster needs a file}"; shift ;;
        --roster=*) roster="${1#--roster=}" ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "dist.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$host" in
    *[!A-Za-z0-9.:_-]*|"") echo "dist.sh: --host $host: use an IP address or a host name" >&2; exit 2 ;;
esac
[ -z "$roster" ] || roster=$(realpath "$roster")
dist="${DIST_DIR:-dist}"

# `dist`: release, stripped, no debug info (Cargo.toml [profile.dist]); release keeps line
# tables for benchmarks and profiling.
bins=(--bin server --bin server_key --bin client --bin attack_lab)
if [ "$profile" = dist ]; then
    cargo build --profile dist -p server -p server_key -p client_app "${bins[@]}"
else
    cargo build -p server -p server_key -p client_app "${bins[@]}"
fi
bin="target/$profile"

srv="$dist/server"
mkdir -p "$srv/sql"
install -m 0755 "$bin/server" "$bin/server_key" "$bin/attack_lab" "$srv/"
cp sql/*.sql sql/README.md "$srv/sql/"
# Configs are written once; a re-run keeps the teacher's edits. Both servers in one folder: the
# session keys server_key writes are where server reads them, and so is the user list.
if [ ! -f "$srv/server.toml" ]; then
    sed -e 's|^session_key_dir = .*|session_key_dir = "keys/sessions"|' server/server.toml > "$srv/server.toml"
fi
if [ ! -f "$srv/server_key.toml" ]; then
    sed -e 's|^registration = .*|registration = "strict"|' server_key/server_key.toml > "$srv/server_key.toml"
fi
grep -q '^registration = "strict"' "$srv/server_key.toml" ||
    echo "dist.sh: WARNING: $srv/server_key.toml is not registration = \"strict\": students can claim unclaimed names" >&2
cat > "$srv/README.txt" <<'TXT'
mini-chat 服务器文件夹（教师机） / server folder (teacher's PC)

  ./server user import 名单.xlsx      导入学生名单（CSV 或 xlsx：username,nickname[,password]）；
                                      初始密码写在 data/passwords.csv
  ./server_key                        密钥分发服务器（端口 8091，registration = "strict"）
  ./server                            聊天服务器（端口 8090）
  ./server user list | add | passwd | remove
  ./server_key clients list           哪个用户名登记了哪个客户端密钥

  ./server user import roster.xlsx    import a class (CSV or xlsx: username,nickname[,password]);
                                      initial passwords go to data/passwords.csv
  ./server_key                        key distribution server (port 8091, registration = "strict")
  ./server                            chat server (port 8090)

请在本机防火墙放行 TCP 端口 8090 和 8091，以及 UDP 端口 8092（学生的客户端用它自动找到这台电脑）。导入学生后，再运行一次
scripts/dist.sh --host <本机地址> 生成他们的文件夹。keys/server_private.pem 和
data/passwords.csv 要保密。server 启动时数据库必须能连上（用 MySQL 时可加 --wait-for-db 等它启动）。

Open TCP ports 8090 and 8091, and UDP port 8092 (students' clients find this PC with it), in this PC's firewall. After importing students, run
scripts/dist.sh --host <this PC's address> again to make their folders.
Keep keys/server_private.pem and data/passwords.csv secret. The database must answer when
server starts (with MySQL, --wait-for-db waits for it).
TXT
cfg=(--config "$srv/server.toml")
"$srv/server_key" --config "$srv/server_key.toml" init
# Creates the database if needed and writes the user list (keys/chat_users.txt) for server_key.
"$srv/server" "${cfg[@]}" user list >/dev/null
if [ -n "$roster" ]; then
    "$srv/server" "${cfg[@]}" user import "$roster"
fi

port_of() { sed -n 's/^listen *= *"\(.*\)"/\1/p' "$1" | sed 's/.*://' | head -n1; }
chat_port=$(port_of "$srv/server.toml"); chat_port=${chat_port:-8090}
key_port=$(port_of "$srv/server_key.toml"); key_port=${key_port:-8091}
# server_key announces the chat port to discovering clients: keep it server.toml's.
if grep -q '^chat_port *=' "$srv/server_key.toml"; then
    sed -i "s/^chat_port *=.*/chat_port = $chat_port/" "$srv/server_key.toml"
else
    echo "chat_port = $chat_port" >>"$srv/server_key.toml"
fi
discovery_port=$(sed -n 's/^discovery_port *= *\([0-9]*\).*/\1/p' "$srv/server_key.toml" | head -n1)
discovery_port=${discovery_port:-8092}
if [ "$host" = auto ]; then
    where_zh="老师的电脑（在局域网里自动查找，UDP 端口 $discovery_port）"
    where_en="the teacher's PC (found on the local network, UDP port $discovery_port)"
else
    where_zh="$host:$key_port"; where_en="$host:$key_port"
fi
user_list="$srv/keys/chat_users.txt"
[ -s "$user_list" ] || { echo "dist.sh: no user list at $user_list (user_list set elsewhere in server.toml?)" >&2; exit 1; }
pem="$srv/keys/server_public.pem"
fingerprint=$("$srv/server_key" --config "$srv/server_key.toml" init | sed -n 's/.*fingerprint \(.*\))/\1/p')

folder_of() {
    case "$1" in
        user1) echo client_wy ;;
        user2) echo client_dz ;;
        user3) echo client_cxk ;;
        *) echo "client_$1" ;;
    esac
}

made=()
while read -r user; do
    case "$user" in ''|'#'*) continue ;; esac
    name=$(folder_of "$user")
    d="$dist/$name"
    mkdir -p "$d"
    if [ "$profile" = debug ]; then
        # The test build keeps debug info (~100 MB); forty copies of it would fill a disk.
        strip -o "$d/$name" "$bin/client" && chmod 0755 "$d/$name"
    else
        install -m 0755 "$bin/client" "$d/$name"
    fi
    language=zh
    [ -f "$d/client.toml" ] && grep -q '^language *= *"en"' "$d/client.toml" && language=en
    keep_history=false
    [ -f "$d/client.toml" ] && grep -q '^keep_history *= *true' "$d/client.toml" && keep_history=true
    cat > "$d/client.toml" <<TOML
# $name: mini-chat client folder of $user, made by scripts/dist.sh.
# The key files (client_private.pem, server_public.pem, session_key.txt) live beside this file,
# so the whole folder can be copied anywhere.

# The teacher's PC running server_key and server: "auto" finds it on the local network
# (a UDP broadcast to discovery_port; the ports then come from its answer), or its address.
server_host = "$host"
chat_port = $chat_port
key_port = $key_port
discovery_port = $discovery_port
# Login name: this folder's client key is registered for this name only.
username = "$user"
# "zh" (中文) or "en".
language = "$language"
# true: keep the messages shown in this folder (sealed under history_key.txt) and show them at
# the next start; false: write no message to disk. 保存聊天记录：true 或 false（不加引号）。
keep_history = $keep_history
TOML
    cp "$pem" "$d/server_public.pem"
    # The lab guide (docs/LESSON.md), under the name a student looks for.
    cp docs/LESSON.md "$d/实验指导.md"
    "$srv/server_key" --config "$srv/server_key.toml" clients provision "$user" "$d" >/dev/null
    if [ "$user" = user1 ] || [ "$user" = user2 ] || [ "$user" = user3 ]; then
        pw_zh="演示账号，密码 111111"; pw_en="demo account, password 111111"
    else
        pw_zh="老师发给你的初始密码"
        pw_en="the initial password from your teacher"
    fi
    cat > "$d/README.txt" <<TXT
mini-chat 客户端文件夹：$name（用户名 $user）

1. ./$name key     密钥分发：从 $where_zh 取得你的 DES 会话密钥（数字信封，服务器签名）。
                   本文件夹的客户端密钥已在服务器登记，只能用于用户名 $user。
2. ./$name         聊天窗口（或 ./$name cli 用终端）。密码：$pw_zh。

server_public.pem 是服务器的公钥（指纹 $fingerprint）：密钥分发只接受这台服务器。
整个文件夹可以复制到任何位置；程序在自身旁边找 client.toml。请不要把文件夹借给别人。
在 Windows 上程序名是 $name.exe。中文需要 CJK 字体（Debian/Ubuntu：fonts-noto-cjk）。

----------------------------------------------------------------------------------------------
mini-chat client folder: $name (username $user)

1. ./$name key     key distribution: gets your DES session key from $where_en in a
                   digital envelope signed by the server. This folder's client key is
                   registered with the server for username $user only.
2. ./$name         the chat window (or ./$name cli for the terminal). Password: $pw_en.

server_public.pem is the server's public key (fingerprint $fingerprint): the key step refuses
any other server. The folder can be copied anywhere; the program finds client.toml beside
itself. Do not lend your folder to anyone. Chinese text needs a CJK font (fonts-noto-cjk).
TXT
    (cd "$dist" && rm -f "$name.zip" && zip -qr "$name.zip" "$name" -x "$name/session_key.txt")
    made+=("$name")
done < "$user_list"

sheet="$srv/data/passwords.csv"
if [ -f "$sheet" ]; then
    install -m 0600 "$sheet" "$dist/passwords.csv"
fi
size=$(stat -c %s "$dist/${made[0]}/${made[0]}")
echo "dist.sh: built $profile into $dist/: server and ${#made[@]} client folders (+ .zip) for $host:$chat_port/$key_port"
echo "dist.sh: client program (as copied) $((size / 1024)) KiB, server $(( $(stat -c %s "$bin/server") / 1024 )) KiB, server_key $(( $(stat -c %s "$bin/server_key") / 1024 )) KiB"
[ -f "$sheet" ] && echo "dist.sh: class sheet (initial passwords; keep it private): $dist/passwords.csv"
# Forty copies go over USB sticks and shared drives: the client program stays small.
limit=$((12 * 1024 * 1024))
if [ "$size" -gt "$limit" ]; then
    echo "dist.sh: FAIL: the client program is $((size / 1024)) KiB, over the 12 MiB limit (is [profile.dist] still stripped?)" >&2
    exit 1
fi
exit 0
