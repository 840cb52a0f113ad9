#!/usr/bin/env bash
# Build the FieldChart one-folder bundle (dist/fieldchart/) with PyInstaller.
#
#   packaging/build.sh               build, then check the bundle's shared-library dependencies
#   packaging/build.sh --self-test   ... and run the bundle's `--self-test` offscreen
#   packaging/build.sh --clean       start from an empty PyInstaller cache
#
# Python: the project's .venv (created and filled like ./fieldchart.sh does if missing), or the
# virtualenv named by FIELDCHART_BUILD_VENV (created if missing). PyInstaller is pinned in the
# `package` extra of pyproject.toml; it is a build-time tool only and never ships in the bundle.
# System libraries the bundle does not carry (OpenGL/EGL, fontconfig, fonts, xkbcommon, ...) are
# installed with apt-get when run as root on Debian/Ubuntu; otherwise the exact line is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

SELF_TEST=0
CLEAN=()
for arg in "$@"; do
    case "$arg" in
        --self-test) SELF_TEST=1 ;;
        --clean) CLEAN=(--clean) ;;
        *) echo "usage: packaging/build.sh [--self-test] [--clean]" >&2; exit 2 ;;
    esac
done

# What the bundle needs from the system (dist/system-libraries.txt after a build lists it):
# libc, OpenGL/EGL through glvnd, libxcb on X11 (libwayland-client on Wayland), and
# fontconfig's configuration with at least one font. Everything else is inside the bundle.
RUNTIME_PKGS="libgl1 libegl1 libxcb1 fontconfig-config fonts-dejavu-core"
BUILD_PKGS="binutils"  # PyInstaller reads ELF files with objdump
VENV="${FIELDCHART_BUILD_VENV:-.venv}"
DIST=dist
WORK=build/pyinstaller

say() { printf 'build.sh: %s\n' "$*" >&2; }

install_system() {
    command -v dpkg-query >/dev/null || { say "not Debian/Ubuntu: install OpenGL/EGL, fontconfig, a font and objdump yourself"; return 0; }
    local missing=()
    for pkg in $RUNTIME_PKGS $BUILD_PKGS; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        say "missing system packages; run this once, then try again:"
        echo "sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
        exit 1
    fi
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    local want have
    want=$(sed -n 's/^ *"pyinstaller==\([^"]*\)",*$/\1/p' pyproject.toml)
    have=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pyinstaller"))' 2>/dev/null || true)
    if [ "$have" != "$want" ] || ! "$VENV/bin/python" -c 'import app, PySide6, sqlcipher3' 2>/dev/null; then
        say "installing FieldChart and PyInstaller $want into $VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip
        "$VENV/bin/python" -m pip install -q -e '.[package]'
    fi
}

build() {
    local started=$SECONDS
    say "building $DIST/fieldchart with $("$VENV/bin/pyinstaller" --version)"
    "$VENV/bin/pyinstaller" --noconfirm --log-level WARN "${CLEAN[@]}" \
        --distpath "$DIST" --workpath "$WORK" packaging/fieldchart.spec
    # What a Linux installer or a person copies next to the program.
    install -m 0644 packaging/fieldchart.desktop "$DIST/fieldchart/fieldchart.desktop"
    install -m 0644 resources/ui/fieldchart.png "$DIST/fieldchart/fieldchart.png"
    install -m 0644 resources/ui/fieldchart.svg "$DIST/fieldchart/fieldchart.svg"
    BUILD_SECONDS=$((SECONDS - started))
}

check_libraries() {
    # Every ELF file in the bundle must resolve its libraries from the bundle or the system;
    # write the system ones (what a target machine must have) and their Debian packages to
    # dist/system-libraries.txt, and fail on any library this machine cannot resolve.
    local internal report="$DIST/system-libraries.txt"
    internal=$(cd "$DIST/fieldchart/_internal" && pwd)
    find "$DIST/fieldchart" -type f \( -name '*.so*' -o -name fieldchart \) -print0 \
        | xargs -0 env LD_LIBRARY_PATH="$internal" ldd 2>/dev/null \
        | awk '/=>/ {print $1, $3}' | sort -u > "$report.all"
    local missing
    missing=$(awk '$2 == "not" {print $1}' "$report.all" | sort -u)
    if [ -n "$missing" ]; then
        say "libraries this machine lacks: $(echo $missing)"
        # Only the Wayland plugins may lack libraries here: they are loaded on Wayland
        # desktops, which have them. Anything else is an error.
        if echo "$missing" | grep -vqE '^libwayland-'; then
            exit 1
        fi
    fi
    awk -v dir="$internal/" '$2 != "not" && index($2, dir) != 1 {print $2}' "$report.all" \
        | sort -u | while read -r path; do
            pkg=$( (dpkg -S "$path" || dpkg -S "$(readlink -f "$path")" \
                    || dpkg -S "*/$(basename "$path")") 2>/dev/null | head -1 | cut -d: -f1 || true)
            echo "$(basename "$path") ${pkg:-?}"
        done > "$report"
    rm -f "$report.all"
    say "libraries taken from the system: $(cut -d' ' -f1 "$report" | tr '\n' ' ')"
    say "their packages: $(cut -d' ' -f2 "$report" | sort -u | tr '\n' ' ')"
}

self_test() {
    say "running the bundle's self-test (offscreen, outside the source tree, without the venv)"
    local home; home=$(mktemp -d)
    (cd / && env -i PATH=/usr/bin:/bin HOME="$home" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
        "$OLDPWD/$DIST/fieldchart/fieldchart" --self-test)
    rm -rf "$home"
}

install_system
install_python
build
check_libraries
bytes=$(du -sb "$DIST/fieldchart" | cut -f1)
say "bundle: $DIST/fieldchart, $((bytes / 1024 / 1024)) MiB ($(find "$DIST/fieldchart" -type f | wc -l) files), built in ${BUILD_SECONDS}s"
[ "$SELF_TEST" -eq 1 ] && self_test
exit 0
