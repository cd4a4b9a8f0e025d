#!/usr/bin/env bash
# Sign the app with a Developer ID and notarize the disk image; a no-op without the secrets.
#
#   packaging/macos/sign_and_notarize.sh sign [APP]      # before make_dmg.sh
#   packaging/macos/sign_and_notarize.sh notarize DMG    # after make_dmg.sh
#
# APP defaults to dist/TransferGUI.app. Both steps need all of these environment variables;
# when any is missing the script prints "signing skipped: secrets not set" and exits 0, so
# forks and pull requests (which get no secrets) still build an unsigned dmg.
#   MACOS_CERTIFICATE           base64 of the "Developer ID Application" certificate + key (.p12)
#   MACOS_CERTIFICATE_PASSWORD  the .p12's password
#   MACOS_SIGN_IDENTITY         e.g. "Developer ID Application: Jane Doe (TEAMID1234)"
#   APPLE_ID                    the Apple ID that notarizes
#   APPLE_TEAM_ID               its team ID
#   APPLE_APP_PASSWORD          an app-specific password for that Apple ID
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"
SECRETS=(MACOS_CERTIFICATE MACOS_CERTIFICATE_PASSWORD MACOS_SIGN_IDENTITY
         APPLE_ID APPLE_TEAM_ID APPLE_APP_PASSWORD)

usage() {
  echo "usage: $0 sign [APP] | notarize DMG" >&2
  exit 2
}

secrets_present() {
  local name missing=()
  for name in "${SECRETS[@]}"; do
    [[ -n "${!name:-}" ]] || missing+=("$name")
  done
  if (( ${#missing[@]} == 0 )); then
    return 0
  fi
  # Some but not all set is a misconfiguration rather than a fork: say which are missing.
  if (( ${#missing[@]} < ${#SECRETS[@]} )); then
    echo "warning: missing ${missing[*]}" >&2
  fi
  return 1
}

KEYCHAIN=""
WORK=""
ORIGINAL_KEYCHAINS=()

cleanup() {
  if [[ -n "$KEYCHAIN" ]]; then
    if (( ${#ORIGINAL_KEYCHAINS[@]} )); then
      security list-keychains -d user -s "${ORIGINAL_KEYCHAINS[@]}" || true
    fi
    security delete-keychain "$KEYCHAIN" || true
  fi
  if [[ -n "$WORK" ]]; then
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# Import the certificate into a throwaway keychain so no password prompt (and no login
# keychain) is involved, and so nothing of it outlives this script.
import_certificate() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/transfer-gui-sign.XXXXXX")"
  KEYCHAIN="$WORK/signing.keychain-db"
  local keychain_password line
  keychain_password="$(openssl rand -base64 24)"
  printf '%s' "$MACOS_CERTIFICATE" | base64 --decode > "$WORK/certificate.p12"
  security create-keychain -p "$keychain_password" "$KEYCHAIN"
  security set-keychain-settings -lut 21600 "$KEYCHAIN"
  security unlock-keychain -p "$keychain_password" "$KEYCHAIN"
  security import "$WORK/certificate.p12" -k "$KEYCHAIN" -f pkcs12 \
    -P "$MACOS_CERTIFICATE_PASSWORD" -T /usr/bin/codesign
  rm -f "$WORK/certificate.p12"
  # Lets codesign use the key without the "allow access" dialog a CI machine cannot answer.
  security set-key-partition-list -S apple-tool:,apple:,codesign: -s \
    -k "$keychain_password" "$KEYCHAIN" > /dev/null
  while IFS= read -r line; do
    line="${line#"${line%%[![:space:]]*}"}"
    ORIGINAL_KEYCHAINS+=("${line//\"/}")
  done < <(security list-keychains -d user)
  security list-keychains -d user -s "$KEYCHAIN" "${ORIGINAL_KEYCHAINS[@]}"
}

codesign_one() {
  codesign --force --timestamp --options runtime --keychain "$KEYCHAIN" \
    --sign "$MACOS_SIGN_IDENTITY" "$@"
}

is_macho() {
  file -b "$1" | grep -q 'Mach-O'
}

# Inside-out: every nested Mach-O file first, deepest first, then nested bundles
# (Qt's .framework folders), then the app itself. codesign --deep is not used: Apple
# recommends against it, and it would not apply the entitlements to each executable.
sign_app() {
  local app="$1" path
  [[ -d "$app" ]] || { echo "error: $app not found" >&2; exit 2; }

  while IFS= read -r path; do
    if is_macho "$path"; then
      if [[ "$path" == "$app/Contents/MacOS/"* ]]; then
        codesign_one --entitlements "$ENTITLEMENTS" "$path"
      else
        codesign_one "$path"
      fi
    fi
  done < <(find "$app/Contents" -type f \( -name '*.dylib' -o -name '*.so' -o -perm -100 \
             -o -path '*.framework/*' \) | awk '{ print gsub("/", "/"), $0 }' \
             | sort -rn | cut -d' ' -f2-)

  # Folders without an Info.plist are not real bundles (codesign would reject them as
  # "bundle format unrecognized"); their binaries were signed one by one above.
  while IFS= read -r path; do
    if [[ -f "$path/Resources/Info.plist" || -f "$path/Versions/Current/Resources/Info.plist" \
          || -f "$path/Contents/Info.plist" ]]; then
      codesign_one "$path"
    fi
  done < <(find "$app/Contents" -type d \( -name '*.framework' -o -name '*.bundle' \
             -o -name '*.app' \) | awk '{ print gsub("/", "/"), $0 }' | sort -rn | cut -d' ' -f2-)

  codesign_one --entitlements "$ENTITLEMENTS" "$app"

  codesign --verify --deep --strict --verbose=2 "$app"
  codesign --display --entitlements - "$app"
  # Before notarization Gatekeeper rejects it as "Unnotarized Developer ID"; show, don't fail.
  spctl --assess --type execute --verbose=2 "$app" || true
}

notarize_dmg() {
  local dmg="$1" result status submission_id
  [[ -f "$dmg" ]] || { echo "error: $dmg not found" >&2; exit 2; }
  codesign_one "$dmg"
  codesign --verify --verbose=2 "$dmg"

  result="$WORK/notarization.json"
  xcrun notarytool submit "$dmg" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
    --password "$APPLE_APP_PASSWORD" --wait --timeout 2h --output-format json > "$result" || true
  cat "$result"
  status="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("status",""))' "$result" || true)"
  if [[ "$status" != "Accepted" ]]; then
    submission_id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("id",""))' "$result" || true)"
    echo "error: notarization status '${status:-none}'" >&2
    if [[ -n "$submission_id" ]]; then
      # The log names each file Apple rejected and why.
      xcrun notarytool log "$submission_id" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
        --password "$APPLE_APP_PASSWORD" || true
    fi
    exit 1
  fi

  xcrun stapler staple "$dmg"
  xcrun stapler validate "$dmg"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$dmg"
}

main() {
  local command="${1:-}"
  case "$command" in
    sign) ;;
    notarize) [[ $# -ge 2 ]] || usage ;;
    *) usage ;;
  esac
  if ! secrets_present; then
    echo "signing skipped: secrets not set"
    exit 0
  fi
  import_certificate
  if [[ "$command" == sign ]]; then
    sign_app "${2:-$ROOT/dist/TransferGUI.app}"
  else
    notarize_dmg "$2"
  fi
}

main "$@"
