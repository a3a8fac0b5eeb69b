#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks to build and test this
# project (FLTK GUI client via the `fltk` crate, headless GUI tests,
# benchmarks). Idempotent: a second run only checks and exits in ~1 s.
#
#   scripts/bootstrap.sh        # as root, or as a user with sudo
#
# Notes:
# - fltk-sys builds FLTK from C++ source with CMake >= 3.28. Debian 12 ships
#   3.25, so a current CMake comes from PyPI (`cmake` package) and is
#   symlinked into /usr/local/bin, which precedes /usr/bin on PATH.
# - ngircd: Debian's package starts a system daemon on port 6667 where
#   services are allowed to start. We stop and disable it right after
#   installing it, so benchmarks can run their own ngircd on any port.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
MIN_CMAKE=3.28

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "bootstrap: not root and sudo is missing" >&2
    exit 1
fi

installed=()

# ---------------------------------------------------------------- apt packages
APT_PACKAGES=(
    # toolchain bits for C/C++ -sys crates
    g++ make pkg-config
    # FLTK (X11 backend, Pango/Cairo text for CJK/RTL, OpenGL)
    libx11-dev libxext-dev libxft-dev libxinerama-dev libxcursor-dev
    libxrender-dev libxfixes-dev libfontconfig1-dev
    libpango1.0-dev libcairo2-dev libgl1-mesa-dev libglu1-mesa-dev
    # headless GUI testing: X server, input driving, screenshots
    xvfb xauth xdotool imagemagick x11-utils
    fonts-noto-cjk fonts-noto-color-emoji
    # misc tools used by tests / scripts / benchmarks
    openssl ngircd mariadb-client
    # scripts/dist.sh: one .zip per client folder
    zip unzip
    # tests of a student PC whose clock is wrong (LD_PRELOAD clock offset)
    faketime
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    # dpkg -s succeeds for removed-but-configured packages too; check status.
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

LOG=$(mktemp -t bootstrap.XXXXXX)
trap 'rm -f "$LOG"' EXIT
# Run a command quietly; show its output only if it fails.
quiet() {
    if ! "$@" >"$LOG" 2>&1; then
        cat "$LOG" >&2
        echo "bootstrap: FAILED: $*" >&2
        exit 1
    fi
}

apt_install() {
    quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends -o Dpkg::Use-Pty=0 "$@"
}

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ]; then
        quiet $SUDO apt-get update -qq
        apt_updated=1
    fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    apt_update_once
    apt_install "${missing[@]}"
    installed+=("${missing[@]}")

    # If ngircd was just installed and the init system started it, stop it so
    # it does not sit on port 6667 (benchmarks start their own instance).
    if printf '%s\n' "${missing[@]}" | grep -qx ngircd; then
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now ngircd >/dev/null 2>&1 || true
        elif command -v service >/dev/null 2>&1; then
            $SUDO service ngircd stop >/dev/null 2>&1 || true
        fi
    fi
fi

# ---------------------------------------------------------------- CMake >= 3.28
cmake_ok() { # $1 = cmake binary
    local v
    v=$("$1" --version 2>/dev/null | head -n1 | awk '{print $3}') || return 1
    [ -n "$v" ] || return 1
    [ "$(printf '%s\n%s\n' "$MIN_CMAKE" "$v" | sort -V | head -n1)" = "$MIN_CMAKE" ]
}

if ! { command -v cmake >/dev/null 2>&1 && cmake_ok "$(command -v cmake)"; }; then
    if cmake_ok /usr/local/bin/cmake 2>/dev/null; then
        : # present but PATH order puts another cmake first; warned below
    else
        # Pick a Python whose pip may install packages: one that is not
        # "externally managed" (pyenv, venv, older distros). Otherwise use a
        # dedicated venv under /opt (Debian 12 / Ubuntu 23.04+ system python).
        PY=$(command -v python3 || true)
        if [ -z "$PY" ]; then
            apt_update_once
            apt_install python3 python3-venv python3-pip
            installed+=(python3)
            PY=$(command -v python3)
        fi
        stdlib=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
        in_venv=$("$PY" -c 'import sys; print(int(sys.prefix != sys.base_prefix))')
        if [ "$in_venv" = 0 ] && [ -e "$stdlib/EXTERNALLY-MANAGED" ] \
            || ! "$PY" -m pip --version >/dev/null 2>&1; then
            VENV=/opt/cmake-venv
            if [ ! -x "$VENV/bin/python" ]; then
                if ! "$PY" -m venv --help >/dev/null 2>&1 \
                    || ! "$PY" -c 'import ensurepip' >/dev/null 2>&1; then
                    apt_update_once
                    apt_install python3-venv
                fi
                $SUDO "$PY" -m venv "$VENV"
            fi
            PY="$VENV/bin/python"
            PIP_SUDO=$SUDO
        else
            PIP_SUDO=""
            # A user-owned interpreter (pyenv) needs no sudo; a root-owned one does.
            [ -w "$stdlib" ] || PIP_SUDO=$SUDO
        fi
        quiet $PIP_SUDO env PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install -q \
            --disable-pip-version-check --upgrade cmake
        bindir=$("$PY" -c 'import cmake; print(cmake.CMAKE_BIN_DIR)')
        # Link the real binaries (CMake finds its modules via its real path).
        for t in cmake ctest cpack; do
            $SUDO ln -sf "$bindir/$t" "/usr/local/bin/$t"
        done
        command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1 || true
        hash -r
        installed+=("cmake-$(/usr/local/bin/cmake --version | head -n1 | awk '{print $3}')(pip)")
    fi
    if ! cmake_ok "$(command -v cmake || echo /nonexistent)"; then
        echo "bootstrap: WARNING: 'cmake' on PATH is not >= $MIN_CMAKE;" \
             "put /usr/local/bin first or export CMAKE=/usr/local/bin/cmake" >&2
    fi
fi

if [ "${#installed[@]}" -gt 0 ]; then
    echo "bootstrap: installed ${installed[*]}"
else
    echo "bootstrap: everything present"
fi
