#!/bin/sh
# deps.sh - install (Debian/Ubuntu) or name the packages flowtop needs.
#   tools/deps.sh build   what building needs (called by make when a library is missing)
#   tools/deps.sh test    what building and the test suite need
#   tools/deps.sh bench   the test suite's, plus the original flowtop (netsniff-ng) to compare
set -e

BUILD_PKGS="build-essential pkg-config libmnl-dev libncurses-dev linux-libc-dev clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libmaxminddb-dev libc-ares-dev"
TEST_PKGS="$BUILD_PKGS libcmocka-dev libclang-rt-14-dev conntrack iproute2 iptables nftables tmux python3 procps socat dnsmasq-base iputils-ping util-linux qemu-system-x86 busybox-static kmod xz-utils valgrind"

BENCH_PKGS="$TEST_PKGS netsniff-ng"

want=${1:-build}
case "$want" in
build) pkgs=$BUILD_PKGS ;;
test) pkgs=$TEST_PKGS ;;
bench) pkgs=$BENCH_PKGS ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing() {
	for p in $pkgs; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
	done
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	# Not Debian: check the libraries through pkg-config and name what is needed.
	if pkg-config --exists libmnl ncursesw libbpf libmaxminddb libcares 2>/dev/null && command -v clang >/dev/null &&
		command -v bpftool >/dev/null; then
		exit 0
	fi
	echo "flowtop needs: a C compiler, make, pkg-config, libmnl, ncursesw (wide-character" >&2
	echo "ncurses), libbpf, libmaxminddb, c-ares, clang (BPF target), bpftool and the Linux UAPI headers; the tests also need cmocka, conntrack-tools," >&2
	echo "iproute2, iptables, nftables, tmux, python3, socat. Install them with your package manager." >&2
	exit 1
fi

need=$(missing)
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "flowtop: missing packages: $need" >&2
	echo "flowtop: install them with: sudo apt-get install $need" >&2
	exit 1
fi
echo "flowtop: installing $need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends $need >/dev/null 2>&1 ||
	{ apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends $need >/dev/null; }
