#!/usr/bin/env bash
# Make the macOS disk image: the app plus an /Applications link to drag it onto.
#
#   packaging/macos/make_dmg.sh [APP] [VERSION]
#
# APP defaults to dist/TransferGUI.app, VERSION to transfer_gui/__init__.py's __version__.
# Writes dist/installer/TransferGUI-<version>-macos-<arch>.dmg (arch: arm64 or x64, from
# `uname -m`, or the ARCH environment variable) and prints its path as the last line.
# Sign the app before this (sign_and_notarize.sh sign), notarize the dmg after it
# (sign_and_notarize.sh notarize DMG).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
APP="${1:-$ROOT/dist/TransferGUI.app}"
VERSION="${2:-$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/transfer_gui/__init__.py")}"
ARCH="${ARCH:-$(uname -m)}"
if [[ "$ARCH" == "x86_64" ]]; then
  ARCH="x64"
fi
VOLUME_NAME="Transfer GUI"
OUT_DIR="$ROOT/dist/installer"
DMG="$OUT_DIR/TransferGUI-$VERSION-macos-$ARCH.dmg"

if [[ ! -d "$APP" ]]; then
  echo "error: $APP not found; run python packaging/build.py first" >&2
  exit 2
fi
if [[ -z "$VERSION" ]]; then
  echo "error: no version given and none found in transfer_gui/__init__.py" >&2
  exit 2
fi

STAGING="$(mktemp -d "${TMPDIR:-/tmp}/transfer-gui-dmg.XXXXXX")"
trap 'rm -rf "$STAGING"' EXIT

# ditto keeps what the signature covers intact: framework symlinks, extended attributes.
ditto "$APP" "$STAGING/TransferGUI.app"
ln -s /Applications "$STAGING/Applications"

mkdir -p "$OUT_DIR"
rm -f "$DMG"
# hdiutil sometimes fails with "Resource busy" on CI machines while Spotlight or XProtect
# still scans the staged files; a retry after a pause is the usual cure.
for attempt in 1 2 3; do
  if hdiutil create -volname "$VOLUME_NAME" -srcfolder "$STAGING" -fs HFS+ \
      -format UDZO -imagekey zlib-level=9 -ov "$DMG"; then
    break
  fi
  if [[ $attempt == 3 ]]; then
    echo "error: hdiutil create failed 3 times" >&2
    exit 1
  fi
  echo "hdiutil create failed (attempt $attempt), retrying in 15 s" >&2
  sleep 15
done

hdiutil verify "$DMG"
echo "$DMG"
