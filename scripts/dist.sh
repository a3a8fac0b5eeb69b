#!/usr/bin/env bash
# Build the programs and lay out portable folders under dist/:
#   dist/server/      server, server_key, server.toml, server_key.toml, sql/, keys/ (server identity)
#   dist/client_wy/   client_wy, client.toml, README.txt, server_public.pem   (likewise client_dz, client_cxk)
# Copy dist/server to the teacher's PC and one client folder to each student's PC.
#
#   scripts/dist.sh            release build (default)
#   scripts/dist.sh --debug    reuse the test build (faster; used by scripts/dist-test.sh)
#   DIST_DIR=/path scripts/dist.sh
#
# The server identity in dist/server/keys is created once and kept on later runs, so clients
# already handed out stay pinned to it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="/usr/local/bin:$PATH"

profile=release
[ "${1:-}" = "--debug" ] && profile=debug
dist="${DIST_DIR:-dist}"
clients=(client_wy client_dz client_cxk)

if [ "$profile" = release ]; then
    cargo build --release -p server -p server_key -p client_wy -p client_dz -p client_cxk
else
    cargo build -p server -p server_key -p client_wy -p client_dz -p client_cxk
fi
bin="target/$profile"

mkdir -p "$dist/server/sql"
install -m 0755 "$bin/server" "$bin/server_key" "$dist/server/"
cp sql/*.sql sql/README.md "$dist/server/sql/" 2>/dev/null || cp sql/* "$dist/server/sql/"
# Both servers in one folder: the session keys server_key writes are where server reads them.
sed -e 's|^session_key_dir = .*|session_key_dir = "keys/sessions"|' server/server.toml > "$dist/server/server.toml"
cp server_key/server_key.toml "$dist/server/server_key.toml"
cat > "$dist/server/README.txt" <<'TXT'
mini-chat server folder (teacher's PC)

  ./server_key          key distribution server (port 8091); prints its key fingerprint
  ./server              chat server (port 8090); creates data/mini_chat.db with user1..user3 / 111111
  ./server user add NAME NICKNAME      add a user (also: user passwd, user list, user remove)
  ./server_key clients list            which client key is bound to which username

Open TCP ports 8090 and 8091 in this PC's firewall. Students need this PC's IP address in
their client.toml (server_host). Keep keys/server_private.pem secret.
TXT
"$dist/server/server_key" --config "$dist/server/server_key.toml" init

for c in "${clients[@]}"; do
    d="$dist/$c"
    mkdir -p "$d"
    install -m 0755 "$bin/$c" "$d/"
    # Never overwrite a folder's own edited config or keys on a re-run.
    [ -f "$d/client.toml" ] || cp "$c/client.toml" "$d/client.toml"
    cp "$dist/server/keys/server_public.pem" "$d/server_public.pem"
    cat > "$d/README.txt" <<TXT
mini-chat client folder: $c ($(grep '^username' "$c/client.toml" | cut -d'"' -f2))

1. Set server_host in client.toml to the IP address of the PC running server_key and server.
2. ./$c key        key distribution: gets your DES session key in a signed digital envelope
                   (first run also creates your RSA key pair in this folder)
3. ./$c            the chat window   (or: ./$c cli   for the terminal; password 111111 by default)

server_public.pem is the server's key: the key step refuses any other server.
This folder can be copied anywhere; it finds client.toml beside the program.
Chinese text needs a CJK font (Debian/Ubuntu: fonts-noto-cjk; emoji: fonts-noto-color-emoji).
TXT
done
echo "dist.sh: built $profile into $dist/ (server, ${clients[*]})"
