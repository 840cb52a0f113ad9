#!/usr/bin/env bash
# FieldChart's one entry point for people and CI.
#   ./fieldchart.sh run  [fieldchart args]   install what is missing, then open the app
#   ./fieldchart.sh test [pytest args]       install what is missing, then run every test
#   ./fieldchart.sh check                    formatting, lint and strict types (ruff, mypy)
# FIELDCHART_TEST_NOW=<ISO instant> runs the tests on that clock (default 2026-12-02T10:00Z).
# `test` also runs the sync tests against a real FHIR server: Medplum from ../shared/realfhir
# when it is there (started once per run), or the server FIELDCHART_FHIR_BASE names (README,
# "Testing against a real FHIR server"); without one it says so in one line and skips them.
# Installs Debian/Ubuntu system packages with apt-get when run as root (otherwise prints the
# exact line to run), a virtualenv in .venv, and the FHIR test peer's node modules.
set -euo pipefail
cd "$(dirname "$0")"

QT_RUNTIME_PKGS="libgl1 libegl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3 fonts-dejavu-core"
QT_WINDOW_PKGS="libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0"
PYTHON_PKGS="python3 python3-venv python3-pip"
NODE_PKGS="nodejs npm"
# Only the tests need these: desktop-file-validate checks the packaged .desktop entry.
TEST_PKGS="desktop-file-utils"

say() { printf 'fieldchart.sh: %s\n' "$*" >&2; }

missing_debs() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    echo "${missing[@]:-}"
}

install_system() {  # install_system [extra Debian packages]
    command -v dpkg-query >/dev/null || { say "not a Debian/Ubuntu system: install Qt's runtime libraries, Python >= 3.11 and Node.js >= 20 yourself"; return 0; }
    local wanted="$QT_RUNTIME_PKGS $QT_WINDOW_PKGS ${*:-}"
    command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null || wanted="$wanted $PYTHON_PKGS"
    command -v node >/dev/null && command -v npm >/dev/null || wanted="$wanted $NODE_PKGS"
    # shellcheck disable=SC2086
    local missing; missing=$(missing_debs $wanted)
    [ -z "${missing// }" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        say "missing system packages; run this once, then try again:"
        echo "sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing"
        exit 1
    fi
    say "installing system packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

stamp_ok() {  # stamp_ok NAME FILE...: true if FILEs are unchanged since the last install
    local sum; sum=$(cat "${@:2}" | sha256sum | cut -d' ' -f1)
    [ -f ".venv/.stamp-$1" ] && [ "$(cat ".venv/.stamp-$1")" = "$sum" ] && return 0
    echo "$sum" > ".venv/.stamp-$1.new"; return 1
}
stamp_save() { mv ".venv/.stamp-$1.new" ".venv/.stamp-$1"; }

install_python() {
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { say "FieldChart needs Python >= 3.11 (found $(python3 --version))"; exit 1; }
    [ -x .venv/bin/python ] || python3 -m venv .venv
    if ! stamp_ok python pyproject.toml; then
        say "installing Python packages into .venv"
        .venv/bin/python -m pip install -q --upgrade pip
        .venv/bin/python -m pip install -q -e '.[dev]'
        stamp_save python
    fi
}

install_peer() {
    if ! stamp_ok peer tests/peer/package-lock.json || [ ! -d tests/peer/node_modules ]; then
        say "installing the FHIR test peer (npm ci)"
        (cd tests/peer && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) \
            || (cd tests/peer && npm ci --no-audit --no-fund)
        [ -f ".venv/.stamp-peer.new" ] && stamp_save peer || true
    fi
}

case "${1:-}" in
    run)
        shift
        install_system
        install_python
        if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
            say "no display found: run this from a desktop session (or set QT_QPA_PLATFORM)"
            exit 1
        fi
        exec .venv/bin/fieldchart "$@"
        ;;
    test)
        shift
        install_system "$TEST_PKGS"
        install_python
        install_peer
        export QT_QPA_PLATFORM=offscreen
        exec .venv/bin/python -m pytest "$@"
        ;;
    check)
        shift
        install_python
        .venv/bin/ruff format --check app sync tests
        .venv/bin/ruff check app sync tests
        .venv/bin/mypy
        ;;
    *)
        echo "usage: ./fieldchart.sh run [fieldchart args] | test [pytest args] | check" >&2
        exit 2
        ;;
esac
