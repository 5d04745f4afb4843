#!/bin/sh
# gen-vmlinux.sh - regenerate vmlinux/vmlinux.h (kernel types for CO-RE) from a kernel's BTF.
#   tools/gen-vmlinux.sh [BTF_FILE]     default: /sys/kernel/btf/vmlinux
# The header is committed: building needs no BTF, and CO-RE relocations adapt the
# compiled programs to the running kernel's layout at load time.
set -e
btf=${1:-/sys/kernel/btf/vmlinux}
out=$(dirname "$0")/../vmlinux/vmlinux.h
if [ ! -r "$btf" ]; then
	echo "gen-vmlinux: no BTF at $btf (a kernel built with CONFIG_DEBUG_INFO_BTF=y has it)" >&2
	exit 1
fi
command -v bpftool >/dev/null || { echo "gen-vmlinux: bpftool not found (apt-get install bpftool)" >&2; exit 1; }
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out from $btf ($(uname -r))"
