#!/usr/bin/env bash
# Builds DPDK from source with meson-wrapper (vflag-meson), builds vflag against it and runs the
# dataplane tests (dpdk-sys and vflag-dp, on virtual devices) against it.
#   bash scripts/dpdk-from-source.sh 24.11        # Debian trixie's source package
#   bash scripts/dpdk-from-source.sh 22.11        # Debian bookworm's
#   bash scripts/dpdk-from-source.sh 23.11        # the release site's (no Debian release has 23.11)
#   bash scripts/dpdk-from-source.sh 25.11        # the release site's (no Debian release has 25.11)
#   DPDK_SRC=/path/to/dpdk bash scripts/dpdk-from-source.sh 25.11   # a tree or tarball you have
#   DPDK_VERSION=25.11.1 bash scripts/dpdk-from-source.sh 25.11     # another release of the series
#   bash scripts/dpdk-from-source.sh --print-deb-src 24.11          # the deb-src entry it would add
# Debian's source comes through the archive the machine's apt already uses (a deb-src entry
# derived from its `deb` entries, scripts/deb-src.sh); the release site is the fallback.
# The prefix is $DPDK_PREFIX or target/dpdk/<series> (/opt/vflag-dpdk/<series> for a checkout
# under a world-writable directory such as /tmp, which DPDK's EAL will not load drivers from),
# the cargo build target/dpdk-<series>-cargo; a second run with the same source rebuilds
# nothing. Root (packages, hugepages, namespaces).
set -euo pipefail
usage="usage: dpdk-from-source.sh [--print-deb-src] 22.11|23.11|24.11|25.11"
print_deb_src=
if [ "${1:-}" = --print-deb-src ]; then
    print_deb_src=1
    shift
fi
[ $# -eq 1 ] || { echo "$usage" >&2; exit 2; }
series=$1
# suite: the Debian release whose source package has the series (none: the release site only);
# release: the newest release of the series proven with this script, for the release site.
case "$series" in
    22.11) suite=bookworm release=22.11.11 ;;
    23.11) suite='' release=23.11.7 ;;
    24.11) suite=trixie release=24.11.6 ;;
    25.11) suite='' release=25.11.2 ;;
    *) echo "dpdk-from-source.sh: '$series' is not a series this script knows (22.11, 23.11, 24.11 or 25.11)" >&2; exit 2 ;;
esac
if [ -n "${DPDK_VERSION:-}" ]; then
    [[ "$DPDK_VERSION" == "$series".* && "${DPDK_VERSION#"$series".}" =~ ^[0-9]+$ ]] || {
        echo "dpdk-from-source.sh: DPDK_VERSION='$DPDK_VERSION' is not a release of $series (e.g. $release)" >&2
        exit 2
    }
    release=$DPDK_VERSION
fi
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=scripts/deb-src.sh
source scripts/deb-src.sh
apt_dir=/etc/apt
list=$apt_dir/sources.list.d/vflag-dpdk-src.sources
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
# The deb-src entry for the series' Debian release, from the archive the machine's apt uses.
deb_src=
[ -z "$suite" ] || [ -z "$codename" ] || deb_src=$(deb_src_entries "$apt_dir" "$codename" "$suite")
if [ -n "$print_deb_src" ]; then
    if [ -z "$suite" ]; then
        echo "dpdk-from-source.sh: no Debian release has $series; it comes from the release site" >&2
        exit 1
    fi
    [ -n "$deb_src" ] || { echo "dpdk-from-source.sh: no deb entry of $apt_dir serves ${codename:-this release}" >&2; exit 1; }
    printf '%s\n' "$deb_src"
    exit 0
fi
bash scripts/setup.sh

# Build tools, and the libraries of the optional drivers (af_xdp; mlx5 from rdma-core; pcap).
# shellcheck source=scripts/ensure-packages.sh
source scripts/ensure-packages.sh
ensure_packages dpdk-from-source.sh meson ninja-build python3-pyelftools libnuma-dev dpkg-dev xz-utils curl libxdp-dev libbpf-dev libibverbs-dev libpcap-dev

# Adds (or refreshes) the deb-src entry and finds the series' newest Debian version; on
# failure takes the entry out again, so apt's configuration stays as it was.
debian_version() {
    if [ -z "$deb_src" ]; then
        echo "dpdk-from-source.sh: no deb entry of $apt_dir serves ${codename:-this release}, so no Debian source" >&2
        return 1
    fi
    if [ "$(cat "$list" 2>/dev/null)" != "$deb_src" ]; then
        printf '%s\n' "$deb_src" >"$list"
        apt-get update -qq >&2 || {
            rm -f "$list"
            echo "dpdk-from-source.sh: apt-get update failed with the deb-src entry for $suite; removed it" >&2
            return 1
        }
    fi
    apt-cache showsrc dpdk | awk '/^Version:/ {print $2}' | grep "^$series\." | sort -V | tail -1
}

src=${DPDK_SRC:-}
if [ -z "$src" ]; then
    mkdir -p target/dpdk/download
    version=
    if [ -n "$suite" ] && [ -z "${DPDK_VERSION:-}" ]; then
        version=$(debian_version) || version=
        [ -n "$version" ] || echo "dpdk-from-source.sh: no DPDK $series source package in apt's lists" >&2
    fi
    upstream=${version:+${version%%-*}}
    upstream=${upstream:-$release}
    orig="target/dpdk/download/dpdk_${upstream}.orig.tar.xz"  # apt-get source's name
    tarball="target/dpdk/download/dpdk-$upstream.tar.xz"      # the release site's name
    if [ -f "$orig" ]; then
        src=$orig
    elif [ -f "$tarball" ]; then
        src=$tarball
    elif [ -n "$version" ] && (cd target/dpdk/download && apt-get source -qq --download-only "dpdk=$version"); then
        src=$orig
    else
        # An archive may list a source package without serving its files: the same release from
        # the release site then.
        url="https://fast.dpdk.org/rel/dpdk-$upstream.tar.xz"
        echo "dpdk-from-source.sh: downloading DPDK $upstream from $url"
        if ! curl -fsSL --retry 2 -o "$tarball.part" "$url"; then
            rm -f "$tarball.part"
            echo "dpdk-from-source.sh: cannot download $url; pass a DPDK tree or tarball you have with DPDK_SRC=..." >&2
            exit 1
        fi
        mv "$tarball.part" "$tarball"
        src=$tarball
    fi
fi

# The first directory of $1 or above it that anyone may write to (none: empty). The EAL will not
# load driver plugins from under one ("directory path ... is world-writable and insecure"), so
# a DPDK installed there starts with no drivers at all.
world_writable_above() {
    local d=$1
    while [ ! -e "$d" ]; do d=$(dirname "$d"); done
    while :; do
        if [ -n "$(find "$d" -maxdepth 0 -perm -0002)" ]; then
            printf '%s\n' "$d"
            return
        fi
        [ "$d" = / ] && return
        d=$(dirname "$d")
    done
}
prefix=${DPDK_PREFIX:-$root/target/dpdk/$series}
open_dir=$(world_writable_above "$prefix")
if [ -n "$open_dir" ]; then
    if [ -n "${DPDK_PREFIX:-}" ]; then
        echo "dpdk-from-source.sh: DPDK_PREFIX=$DPDK_PREFIX is under $open_dir, which anyone may write to: DPDK's EAL refuses to load drivers from there; give a prefix outside it (e.g. /opt/dpdk-$series)" >&2
        exit 2
    fi
    prefix=/opt/vflag-dpdk/$series
    echo "dpdk-from-source.sh: this checkout is under $open_dir, which anyone may write to, and DPDK's EAL refuses to load drivers from there: installing DPDK into $prefix instead (DPDK_PREFIX to choose)"
fi
cargo build --release -p meson-wrapper
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
