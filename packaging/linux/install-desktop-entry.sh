#!/bin/sh
# Install MusicID's menu entry and icons for the current user (no root needed):
#
#     packaging/linux/install-desktop-entry.sh                 # uses `musicid-gui` from .venv or PATH
#     packaging/linux/install-desktop-entry.sh /path/to/musicid-gui   # e.g. the PyInstaller build
#     packaging/linux/install-desktop-entry.sh --uninstall
#
# Files go to ~/.local/share/applications and ~/.local/share/icons/hicolor (XDG_DATA_HOME if set).
# The Exec line is rewritten to an absolute path, because desktop launchers do not see a venv's PATH.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
app_id="io.github.musicid.MusicID"
sizes="16 24 32 48 64 128 256 512"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$data/applications/$app_id.desktop" "$data/icons/hicolor/scalable/apps/$app_id.svg"
    for s in $sizes; do rm -f "$data/icons/hicolor/${s}x${s}/apps/$app_id.png"; done
    echo "removed the MusicID menu entry and icons from $data"
else
    exe="${1:-}"
    if [ -z "$exe" ]; then
        if [ -x "$repo/.venv/bin/musicid-gui" ]; then exe="$repo/.venv/bin/musicid-gui"
        else exe="$(command -v musicid-gui || true)"; fi
    fi
    if [ -z "$exe" ] || [ ! -x "$exe" ]; then
        echo "musicid-gui not found: run 'make run' (or pip install .) first, or pass its path" >&2
        exit 1
    fi
    exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"
    mkdir -p "$data/applications" "$data/icons/hicolor/scalable/apps"
    sed -e "s|^Exec=.*|Exec=\"$exe\"|" -e "s|^TryExec=.*|TryExec=$exe|" \
        "$here/$app_id.desktop" > "$data/applications/$app_id.desktop"
    cp "$repo/resources/icons/musicid.svg" "$data/icons/hicolor/scalable/apps/$app_id.svg"
    for s in $sizes; do
        mkdir -p "$data/icons/hicolor/${s}x${s}/apps"
        cp "$repo/resources/icons/musicid-$s.png" "$data/icons/hicolor/${s}x${s}/apps/$app_id.png"
    done
    echo "installed $data/applications/$app_id.desktop (Exec=$exe) and icons"
fi
# Refresh caches where the tools exist; menus pick the entry up without them too, just later.
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
