#!/bin/sh
# Regenerate the PNG and .ico icons from resources/icons/musicid.svg (the only hand-made one).
# Needs rsvg-convert (apt-get install librsvg2-bin) and ImageMagick's convert.
set -eu
cd "$(dirname "$0")/../resources/icons"
for size in 16 24 32 48 64 128 256 512; do
    rsvg-convert -w "$size" -h "$size" musicid.svg -o "musicid-$size.png"
done
# Windows icon (PyInstaller's EXE icon): several sizes in one file.
convert musicid-16.png musicid-24.png musicid-32.png musicid-48.png musicid-64.png musicid-256.png musicid.ico
ls -l musicid*
