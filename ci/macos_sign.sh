#!/bin/sh
# Developer ID codesign (hardened runtime) and notarization of one Mach-O binary.
# Called by `ci/release.py macos-sign BINARY` only when every APPLE_* secret below is set.
#   APPLE_CERTIFICATE_P12 (base64), APPLE_CERTIFICATE_PASSWORD, APPLE_SIGNING_IDENTITY,
#   APPLE_NOTARY_KEY (base64 .p8), APPLE_NOTARY_KEY_ID, APPLE_NOTARY_ISSUER
set -eu
binary="${1:?usage: macos_sign.sh BINARY}"
work=$(mktemp -d)
trap 'security delete-keychain "$work/sign.keychain-db" 2>/dev/null || true; rm -rf "$work"' EXIT

printf '%s' "$APPLE_CERTIFICATE_P12" | base64 --decode > "$work/cert.p12"
printf '%s' "$APPLE_NOTARY_KEY" | base64 --decode > "$work/notary.p8"
keychain_password=$(openssl rand -hex 16)
security create-keychain -p "$keychain_password" "$work/sign.keychain-db"
security set-keychain-settings -lut 3600 "$work/sign.keychain-db"
security unlock-keychain -p "$keychain_password" "$work/sign.keychain-db"
security import "$work/cert.p12" -k "$work/sign.keychain-db" -P "$APPLE_CERTIFICATE_PASSWORD" -T /usr/bin/codesign
security set-key-partition-list -S apple-tool:,apple: -s -k "$keychain_password" "$work/sign.keychain-db" >/dev/null
security list-keychains -d user -s "$work/sign.keychain-db"

codesign --force --timestamp --options runtime --keychain "$work/sign.keychain-db" \
    --sign "$APPLE_SIGNING_IDENTITY" "$binary"
codesign --verify --strict --verbose=2 "$binary"

# notarytool takes archives, not bare binaries.
ditto -c -k --keepParent "$binary" "$work/notarize.zip"
xcrun notarytool submit "$work/notarize.zip" --wait \
    --key "$work/notary.p8" --key-id "$APPLE_NOTARY_KEY_ID" --issuer "$APPLE_NOTARY_ISSUER"
