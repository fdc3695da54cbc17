#!/usr/bin/env bash
# Builds DPDK from source with meson-wrapper (vflag-meson), builds vflag against it and runs the
# dataplane tests (dpdk-sys and vflag-dp, on virtual devices) against it.
#   bash scripts/dpdk-from-source.sh 24.11        # Debian trixie's source package
#   bash scripts/dpdk-from-source.sh 22.11        # Debian bookworm's
#   bash scripts/dpdk-from-source.sh 23.11        # dpdk.org's release (Debian has no 23.11 source)
#   DPDK_SRC=/path/to/dpdk bash scripts/dpdk-from-source.sh 24.11   # a tree or tarball you have
# The prefix is $DPDK_PREFIX or target/dpdk/<series>, the cargo build target/dpdk-<series>-cargo; a second run
# with the same source rebuilds nothing. Root (packages, hugepages, namespaces).
set -euo pipefail
series=${1:?usage: dpdk-from-source.sh 22.11|23.11|24.11}
case "$series" in
    22.11) suite=bookworm ;;
    23.11) suite= ;;
    24.11) suite=trixie ;;
    *) echo "dpdk-from-source.sh: '$series' is not a series this script knows (22.11, 23.11 or 24.11)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/setup.sh

# Build tools, and the libraries of the optional drivers (af_xdp; mlx5 from rdma-core).
source "$(dirname "${BASH_SOURCE[0]}")/ensure-packages.sh"
ensure_packages dpdk-from-source.sh meson ninja-build python3-pyelftools libnuma-dev dpkg-dev xz-utils curl libxdp-dev libbpf-dev libibverbs-dev

src=${DPDK_SRC:-}
if [ -z "$src" ]; then
    mkdir -p target/dpdk/download
    if [ -n "$suite" ]; then
        # Debian's source package: only its upstream tarball is needed.
        list=/etc/apt/sources.list.d/vflag-dpdk-src.sources
        if ! grep -qs "$suite" "$list"; then
            printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$list"
            apt-get update -qq
        fi
        version=$(apt-cache showsrc dpdk | awk '/^Version:/ {print $2}' | grep "^$series\." | sort -V | tail -1)
        [ -n "$version" ] || { echo "dpdk-from-source.sh: no DPDK $series source package in apt's lists" >&2; exit 1; }
        upstream=${version%%-*}
    else
        # No Debian release ships this series: dpdk.org's newest release of it that this
        # script knows (DPDK_VERSION picks another).
        upstream=${DPDK_VERSION:-23.11.7}
    fi
    orig="target/dpdk/download/dpdk_${upstream}.orig.tar.xz"  # apt-get source's name
    release="target/dpdk/download/dpdk-$upstream.tar.xz"      # dpdk.org's name
    if [ -f "$orig" ]; then
        src=$orig
    elif [ -f "$release" ]; then
        src=$release
    elif [ -n "$suite" ] && (cd target/dpdk/download && apt-get source -qq --download-only "dpdk=$version"); then
        src=$orig
    else
        # Some mirrors list a source package but do not serve its files (this one answers 404 for
        # trixie's 24.11): then the same release from dpdk.org.
        url="https://fast.dpdk.org/rel/dpdk-$upstream.tar.xz"
        echo "dpdk-from-source.sh: no Debian source for DPDK $upstream here; trying $url"
        curl -fsSL --retry 2 -o "$release.part" "$url" && mv "$release.part" "$release" || {
            rm -f "$release.part"
            echo "dpdk-from-source.sh: cannot download DPDK $upstream (from Debian or $url); pass a tree or tarball you have with DPDK_SRC=..." >&2
            exit 1
        }
        src=$release
    fi
fi

cargo build --release -p meson-wrapper
prefix=${DPDK_PREFIX:-$root/target/dpdk/$series}
target/release/vflag-meson --src "$src" --prefix "$prefix" --work "target/dpdk/work-$series"

# vflag against the private DPDK: dpdk-sys finds it through DPDK_PREFIX; the binaries, their
# PMD plugins and dpdk-testpmd through LD_LIBRARY_PATH and PATH.
export DPDK_PREFIX=$prefix
export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$prefix/bin:$PATH"
export CARGO_TARGET_DIR="$root/target/dpdk-$series-cargo"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release -p dpdk-sys -p dpdk -p vflag-dp --no-fail-fast 2>&1 | tee "$log" || status=$?
source scripts/test-summary.sh
test_summary "summary (DPDK $series from source)" "$log"
grep -m1 "dpdk-sys: linking DPDK" "$log" || true
exit "$status"
