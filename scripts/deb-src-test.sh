#!/usr/bin/env bash
# Tests deb_src_entries (scripts/deb-src.sh) on apt configurations written to a temporary
# directory; the machine's own apt configuration is not read or changed.
set -euo pipefail
# shellcheck source=scripts/deb-src.sh
source "$(dirname "${BASH_SOURCE[0]}")/deb-src.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0
check() {
    local name=$1 want=$2 got=$3
    if [ "$got" == "$want" ]; then
        echo "ok: $name"
    else
        echo "FAILED: $name"
        diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") || true
        failed=1
    fi
}

mkdir -p "$dir/sources.list.d"
check "no apt configuration: no entry" "" "$(deb_src_entries "$dir" bookworm trixie)"

# deb822: a comment inside a stanza, several suites, a security archive (another suite), a
# disabled stanza, keys in any case, an inline key, and a file apt ignores (wrong extension).
cat >"$dir/sources.list.d/debian.sources" <<'EOF'
Types: deb
# a comment inside the stanza
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://archive.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

types: deb deb-src
uris: http://one.example/debian
  http://two.example/debian
suites: bookworm
components: main contrib
signed-by:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL
 -----END PGP PUBLIC KEY BLOCK-----
EOF
printf 'Types: deb\nURIs: http://ignored.example/debian\nSuites: bookworm\nComponents: main\n' \
    >"$dir/sources.list.d/other.sources.disabled"
check "deb822 entries of the release" "Types: deb-src
URIs: http://archive.example/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://one.example/debian http://two.example/debian
Suites: trixie
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL
 -----END PGP PUBLIC KEY BLOCK-----" "$(deb_src_entries "$dir" bookworm trixie)"
check "another release: no entry" "" "$(deb_src_entries "$dir" noble trixie)"

# One-line form: options before the URI, comments, deb-src lines, and an entry the deb822 file
# already gave (printed once).
rm "$dir/sources.list.d/debian.sources"
cat >"$dir/sources.list" <<'EOF'
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/local.gpg] http://local.example/debian bookworm main # a note
deb-src http://src.example/debian bookworm main
deb http://plain.example/debian bookworm-updates main
deb [ arch=amd64 ] http://plain.example/debian bookworm main contrib
EOF
printf 'deb http://plain.example/debian bookworm main\n' >"$dir/sources.list.d/again.list"
check "one-line entries of the release" "Types: deb-src
URIs: http://local.example/debian
Suites: bookworm trixie
Components: main
Signed-By: /etc/apt/keyrings/local.gpg

Types: deb-src
URIs: http://plain.example/debian
Suites: bookworm trixie
Components: main" "$(deb_src_entries "$dir" bookworm bookworm trixie)"

exit "$failed"
