#!/usr/bin/env bash
# Installs what vflag needs on a fresh Debian machine and prepares hugepages. Idempotent; run as
# root. DPDK 22.11 (runtime, headers, dpdk-testpmd), pkg-config, clang for bindgen, iproute2, util-linux (setpriv: the soak's children die with it).
# VFLAG_HUGEPAGES sets how many 2 MiB pages to reserve (default 1024).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs packages and reserves hugepages)" >&2
    exit 1
fi

source "$(dirname "${BASH_SOURCE[0]}")/ensure-packages.sh"
ensure_packages setup.sh dpdk libdpdk-dev dpdk-dev pkg-config clang libclang-dev iproute2 coreutils procps util-linux libxml2-utils

want=${VFLAG_HUGEPAGES:-1024}
have=$(cat /proc/sys/vm/nr_hugepages)
if [ "$have" -lt "$want" ]; then
    echo "$want" > /proc/sys/vm/nr_hugepages
fi
mkdir -p /dev/hugepages
mountpoint -q /dev/hugepages || mount -t hugetlbfs none /dev/hugepages

if ! command -v cargo >/dev/null; then
    echo "setup.sh: cargo not found: install a Rust toolchain (rustup) first" >&2
    exit 1
fi
echo "setup.sh: DPDK $(pkg-config --modversion libdpdk), $(cat /proc/sys/vm/nr_hugepages) hugepages, $(cargo --version)"
