#!/usr/bin/env bash
# Run every test: formatting, lints, the workspace's cargo tests (the MySQL ones when
# CHAT_TEST_MYSQL_URL is set), the GUI test under Xvfb and the portable-folder test.
# Installs what is missing first (scripts/bootstrap.sh), so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="/usr/local/bin:$PATH"

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
mkdir -p target
set +e
cargo test --workspace -- --nocapture 2>&1 | tee target/test.log
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "test.sh: cargo test failed"; exit "$status"; }

if [ -n "${CHAT_TEST_MYSQL_URL:-}" ]; then
    ran=$(grep -c '^MYSQL-TEST-RAN' target/test.log || true)
    echo "test.sh: $ran MySQL tests ran against $CHAT_TEST_MYSQL_URL"
else
    echo "test.sh: CHAT_TEST_MYSQL_URL not set: MySQL tests were skipped"
fi

step "GUI test (Xvfb + xdotool)"
scripts/gui-test.sh

step "every error a student meets in the GUI, in Chinese and English (Xvfb)"
scripts/gui-dialogs.sh

step "portable client folder test"
scripts/dist-test.sh

step "the lab guide: every command of docs/LESSON.md, run against real servers"
scripts/lesson-test.sh

step "a class of forty: roster, dist folders, key steps, forced password change, everyone hears everyone"
scripts/class-test.sh

step "short load run (100 clients, 5 s): no loss, duplicate or reordering"
scripts/load.sh --short

echo
echo "test.sh: all tests passed"
