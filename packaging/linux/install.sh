#!/usr/bin/env bash
# Install the AgentMemory Migration Wizard bundle for the current user (no root needed), with its
# menu entry, icon and file types, so that double-clicking an export opens it in the wizard.
#
#   packaging/linux/install.sh                 # install dist/agentmemory-wizard (build.sh output)
#   packaging/linux/install.sh --bundle DIR    # install another one-folder bundle
#   packaging/linux/install.sh --uninstall     # remove everything this script installed
#
# Where things go (each can be overridden through the environment, e.g. for tests):
#   OPT_DIR         ~/.local/opt/agentmemory-wizard   the bundle (replaced as a whole)
#   BIN_DIR         ~/.local/bin                      a launcher symlink: agentmemory-wizard
#   XDG_DATA_HOME   ~/.local/share                    applications/, icons/hicolor/, mime/packages/
# Afterwards it runs update-mime-database, update-desktop-database and gtk-update-icon-cache
# when they are installed (Debian: shared-mime-info, desktop-file-utils, libgtk-3-bin).
set -euo pipefail

APP=agentmemory-wizard
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

OPT_DIR="${OPT_DIR:-$HOME/.local/opt/$APP}"
BIN_DIR="${BIN_DIR:-$HOME/.local/bin}"
DATA_DIR="${XDG_DATA_HOME:-$HOME/.local/share}"
BUNDLE="$ROOT/dist/$APP"
ACTION=install

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) BUNDLE="${2:?--bundle needs a folder}"; shift 2 ;;
        --bundle=*) BUNDLE="${1#--bundle=}"; shift ;;
        --uninstall) ACTION=uninstall; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

APPLICATIONS="$DATA_DIR/applications"
ICONS="$DATA_DIR/icons/hicolor"
MIME="$DATA_DIR/mime"
DESKTOP_FILE="$APPLICATIONS/$APP.desktop"
MIME_FILE="$MIME/packages/$APP.xml"
LAUNCHER="$BIN_DIR/$APP"

say() { printf '%s\n' "$*"; }

refresh_caches() {
    if command -v update-mime-database >/dev/null 2>&1; then
        update-mime-database "$MIME" >/dev/null
    else
        say "note: update-mime-database not found (package shared-mime-info); file types apply after it runs"
    fi
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$APPLICATIONS" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -d "$ICONS" ]; then
        gtk-update-icon-cache -q -f -t "$ICONS" || true
    fi
}

# The icon theme folders: from the bundle (so a copied dist/ folder is enough), else the checkout.
icon_source() {
    local candidate
    for candidate in "$BUNDLE/_internal/resources/icons/hicolor" "$ROOT/resources/icons/hicolor"; do
        if [ -d "$candidate" ]; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# A desktop-entry Exec argument: quoted when needed; characters that would need escaping refused.
exec_argument() {
    case "$1" in
        *[\"\`\$\\%]*) echo "install.sh: cannot use this path in a desktop entry: $1" >&2; exit 1 ;;
        *[[:space:]\'\>\<\~\|\&\;\*\?\#\(\)]*) printf '"%s"' "$1" ;;
        *) printf '%s' "$1" ;;
    esac
}

do_uninstall() {
    if [ -L "$LAUNCHER" ] && [ "$(readlink "$LAUNCHER")" = "$OPT_DIR/$APP" ]; then
        rm -f "$LAUNCHER"
    fi
    rm -rf "$OPT_DIR"
    rm -f "$DESKTOP_FILE" "$MIME_FILE"
    if [ -d "$ICONS" ]; then
        find "$ICONS" -path "*/apps/$APP.*" -type f -delete
    fi
    refresh_caches
    say "removed $APP from $OPT_DIR and $DATA_DIR"
}

do_install() {
    if [ ! -x "$BUNDLE/$APP" ]; then
        echo "install.sh: no bundle at $BUNDLE (build it with packaging/build.sh, or pass --bundle DIR)" >&2
        exit 1
    fi
    local icons
    if ! icons="$(icon_source)"; then
        echo "install.sh: no icons found (resources/icons/hicolor)" >&2
        exit 1
    fi

    # The bundle: copied next to the old one, then swapped in.
    mkdir -p "$(dirname "$OPT_DIR")"
    rm -rf "$OPT_DIR.new"
    cp -R "$BUNDLE" "$OPT_DIR.new"
    rm -rf "$OPT_DIR"
    mv "$OPT_DIR.new" "$OPT_DIR"

    mkdir -p "$BIN_DIR"
    ln -sfn "$OPT_DIR/$APP" "$LAUNCHER"

    # The desktop entry runs the installed executable by its full path: ~/.local/bin is not on
    # the PATH of every desktop session.
    local exe line
    exe="$(exec_argument "$OPT_DIR/$APP")"
    mkdir -p "$APPLICATIONS"
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
            Exec=*) line="Exec=$exe %F" ;;
            TryExec=*) line="TryExec=$OPT_DIR/$APP" ;;
        esac
        printf '%s\n' "$line"
    done <"$HERE/$APP.desktop" >"$DESKTOP_FILE.tmp"
    mv "$DESKTOP_FILE.tmp" "$DESKTOP_FILE"

    local size_dir
    for size_dir in "$icons"/*/; do
        size_dir="${size_dir%/}"
        mkdir -p "$ICONS/$(basename "$size_dir")/apps"
        cp "$size_dir/apps/$APP".* "$ICONS/$(basename "$size_dir")/apps/"
    done

    mkdir -p "$MIME/packages"
    cp "$HERE/$APP-mime.xml" "$MIME_FILE"

    refresh_caches
    say "installed $APP:"
    say "  bundle        $OPT_DIR"
    say "  launcher      $LAUNCHER"
    say "  menu entry    $DESKTOP_FILE"
    say "  icons         $ICONS/*/apps/$APP.*"
    say "  file types    $MIME_FILE"
    case ":$PATH:" in
        *":$BIN_DIR:"*) ;;
        *) say "note: $BIN_DIR is not on your PATH; add it to run '$APP' from a terminal" ;;
    esac
}

if [ "$ACTION" = uninstall ]; then
    do_uninstall
else
    do_install
fi
