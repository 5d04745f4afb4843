#!/bin/sh
# scenario.sh - the kernel-matrix scenario: rungs chosen per hook and attribution per flow.
#
#   KT_FLOWTOP=... KT_NET=... KT_WORK=... [KT_IP=...] [KT_BPFLOG=... KT_BPFOBJ=...] \
#       scenario.sh VARIANT...
#
# Runs in the network namespace it is started in (the VM's initial one, or a namespace
# tools/kernel-matrix made on the host), as root, under busybox sh or any POSIX sh.
# It makes a peer namespace joined by a veth pair (10.99.0.1|fd00:99::1 here,
# 10.99.0.2|fd00:99::2 there) and makes conntrack track here with one nft ct rule.
# VARIANT is one of
#   auto        flowtop as it is
#   RUNG        flowtop --rung-limit RUNG (fentry, kprobe, tp_btf, raw_tp, cgroup, netfilter)
#   nobtf       /sys/kernel/btf hidden by a tmpfs (use a private mount namespace on a host)
#   loads       no scenario: each BPF program of attr.bpf.o loaded alone by kt-bpflog
# For each but loads: records `flowtop --probe`, starts `flowtop --json --events`, waits
# until a canary flow shows up attributed, starts servers here, makes 14 flows with kt-net
# (TCP/UDP/ICMP over IPv4/IPv6: 6 outbound to the peer, 6 inbound from it, 2 on loopback)
# and checks that every event of every flow names the right pid with attr "ebpf" (inbound
# ICMP: no pid, the kernel answers it); when eBPF is not usable, only that the flows are there.
# Output: lines starting with "KT|" (parsed by tools/kernel-matrix), the rest is detail.

PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
FT=${KT_FLOWTOP:-/opt/flowtop/build/flowtop}
# iproute2's ip by path: busybox sh may run its own ip applet (no veth) whatever PATH says
IP=${KT_IP:-$(command -v ip)}
BPFLOG=${KT_BPFLOG:-/opt/kt/kt-bpflog}
BPFOBJ=${KT_BPFOBJ:-/opt/kt/attr.bpf.o}
NET=${KT_NET:-/opt/kt/kt-net}
W=${KT_WORK:-/tmp/kt}
mkdir -p "$W"

A4=10.99.0.1 A6=fd00:99::1 B4=10.99.0.2 B6=fd00:99::2
PEER=

say() { echo "KT|$*"; }

now() { awk '{ printf "%.1f", $1 }' /proc/uptime; }

peer() { nsenter -t "$PEER" -n "$@"; }

wait_file() {	# wait_file PATH TENTHS
	n=0
	while [ ! -s "$1" ] && [ "$n" -lt "$2" ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ -s "$1" ]
}

setup() {
	"$IP" link set lo up || return 1
	unshare -n sleep 100000 &
	PEER=$!
	n=0
	while [ "$(readlink /proc/$PEER/ns/net 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ] ||
		[ -z "$(readlink /proc/$PEER/ns/net 2>/dev/null)" ]; do
		n=$((n + 1))
		[ "$n" -gt 100 ] && { echo "peer namespace did not appear"; return 1; }
		sleep 0.05
	done
	"$IP" link add kt0 type veth peer name kt1 || return 1
	"$IP" link set kt1 netns "$PEER" || return 1
	"$IP" addr add $A4/24 dev kt0 &&
		"$IP" -6 addr add $A6/64 dev kt0 nodad &&
		"$IP" link set kt0 up || return 1
	peer "$IP" link set lo up &&
		peer "$IP" addr add $B4/24 dev kt1 &&
		peer "$IP" -6 addr add $B6/64 dev kt1 nodad &&
		peer "$IP" link set kt1 up || return 1
	# one ct expression makes this namespace track (both families, every hook)
	printf '%s\n' 'table inet kt {' \
		'	chain out { type filter hook output priority 0; ct state new counter; }' \
		'}' >"$W/kt.nft"
	nft -f "$W/kt.nft" || { echo "nft failed"; return 1; }
	# servers on the peer, for outbound flows (their owner is the client)
	for s in "tcp $B4 7201" "tcp $B6 7201" "udp $B4 7202" "udp $B6 7202"; do
		# shellcheck disable=SC2086
		set -- $s
		rm -f "$W/peer-$1-$2.pid"
		peer "$NET" serve "$1" "$2" "$3" "$W/peer-$1-$2.pid" &
		wait_file "$W/peer-$1-$2.pid" 50 || { echo "peer server $s did not start"; return 1; }
	done
	# the link needs a moment before it carries packets
	n=0
	until "$NET" client up icmp $B4 >/dev/null 2>&1 && "$NET" client up icmp $B6 >/dev/null 2>&1; do
		n=$((n + 1))
		[ "$n" -gt 20 ] && { echo "no echo from the peer namespace"; return 1; }
		sleep 0.2
	done
	return 0
}

SRVPIDS=
start_servers() {
	SRVPIDS=
	for s in "tcp4 tcp $A4 7101" "tcp6 tcp $A6 7101" "udp4 udp $A4 7102" "udp6 udp $A6 7102" \
		"tcplo tcp 127.0.0.1 7103" "udplo udp ::1 7104"; do
		# shellcheck disable=SC2086
		set -- $s
		rm -f "$W/srv-$1.pid"
		"$NET" serve "$2" "$3" "$4" "$W/srv-$1.pid" &
		SRVPIDS="$SRVPIDS $!"
		wait_file "$W/srv-$1.pid" 50 || { echo "server $s did not start"; return 1; }
	done
}

stop_servers() {
	for p in $SRVPIDS; do kill "$p" 2>/dev/null; done
	for p in $SRVPIDS; do wait "$p" 2>/dev/null; done
	SRVPIDS=
}

flows() {	# flows EXPECTFILE: every flow of the scenario, one EXPECT line each
	{
		"$NET" client tcp4-out tcp $B4 7201
		"$NET" client tcp6-out tcp $B6 7201
		"$NET" client udp4-out udp $B4 7202
		"$NET" client udp6-out udp $B6 7202
		"$NET" client icmp4-out icmp $B4
		"$NET" client icmp6-out icmp $B6
		peer "$NET" client tcp4-in tcp $A4 7101 "$(cat "$W/srv-tcp4.pid")"
		peer "$NET" client tcp6-in tcp $A6 7101 "$(cat "$W/srv-tcp6.pid")"
		peer "$NET" client udp4-in udp $A4 7102 "$(cat "$W/srv-udp4.pid")"
		peer "$NET" client udp6-in udp $A6 7102 "$(cat "$W/srv-udp6.pid")"
		# The kernel answers an inbound echo: nobody in A owns it. With the netns hook,
		# the pinger in the peer netns (this machine's) is known to have made it.
		# shellcheck disable=SC2086 # empty = the client's own pid
		peer "$NET" client icmp4-in icmp $A4 $icmp_in_owner
		# shellcheck disable=SC2086
		peer "$NET" client icmp6-in icmp $A6 $icmp_in_owner
		"$NET" client tcp4-lo tcp 127.0.0.1 7103
		"$NET" client udp6-lo udp ::1 7104
	} >"$1"
}

# loads: every program of the object loaded alone (kt-bpflog), whatever the ladder picks
load_table() {
	if [ ! -x "$BPFLOG" ] || [ ! -r "$BPFOBJ" ]; then
		say "error loads kt-bpflog or attr.bpf.o missing"
		return
	fi
	echo "=== variant loads (each program alone, verifier's last words)"
	for prog in ft_confirm_fentry ft_confirm_kprobe ft_nf ft_listen_fentry ft_listen_kprobe \
		ft_listen_sockops ft_state_tp_btf ft_state_raw_tp ft_post_bind4 ft_post_bind6 \
		ft_sock_create ft_sock_release ft_connect4 ft_connect6; do
		"$BPFLOG" "$BPFOBJ" "$prog" 6 >"$W/load-$prog.log" 2>&1
		if tail -n 1 "$W/load-$prog.log" | grep -q '^load: ok'; then
			say "load $prog ok"
		else
			why=$(grep -v '^load: \|^processed \|^libbpf: \|^-- END' "$W/load-$prog.log" | tail -n 1)
			say "load $prog error: $(tail -n 1 "$W/load-$prog.log" | sed 's/^load: //'): $why"
		fi
	done
}

run_variant() {
	v=$1
	[ "$v" = loads ] && { load_table; return; }
	t0=$(now)
	opt=
	cmode=ebpf
	hidden=0
	case "$v" in
	auto) ;;
	nobtf)
		cmode=conntrack
		if mount -t tmpfs none /sys/kernel/btf; then
			hidden=1
		else
			say "error $v cannot hide /sys/kernel/btf"
			return
		fi ;;
	*) opt="--rung-limit $v" ;;
	esac
	echo "=== variant $v (flowtop $opt)"
	# shellcheck disable=SC2086
	"$FT" --probe $opt >"$W/$v.probe" 2>&1
	cat "$W/$v.probe"
	# a rung refused at load time: the verifier's own words, once per program
	if [ -x "$BPFLOG" ] && [ -r "$BPFOBJ" ]; then
		awk '$1 ~ /^(flow|listen|bind|sock|netns)$/ { h = $1 }
			$2 == "refused:" && $3 == "load:" { print $1, h }' "$W/$v.probe" |
		while read -r rung hook; do
			case "$hook/$rung" in
			flow/fentry) prog=ft_confirm_fentry ;;	flow/kprobe) prog=ft_confirm_kprobe ;;
			flow/netfilter) prog=ft_nf ;;		listen/fentry) prog=ft_listen_fentry ;;
			listen/kprobe) prog=ft_listen_kprobe ;;	listen/cgroup) prog=ft_listen_sockops ;;
			listen/tp_btf) prog=ft_state_tp_btf ;;	listen/raw_tp) prog=ft_state_raw_tp ;;
			bind/cgroup) prog=ft_post_bind4 ;;	sock/cgroup) prog=ft_sock_create ;;
			*) continue ;;
			esac
			grep -qx "$prog" "$W/vlog.done" 2>/dev/null && continue
			echo "$prog" >>"$W/vlog.done"
			"$BPFLOG" "$BPFOBJ" "$prog" 12 2>&1 | sed "s/^/KT|vlog $hook\/$rung $prog: /"
		done
	fi
	# eBPF refused (no BTF, no privilege...): the conntrack flows must still be there
	grep -q '^ebpf: not usable' "$W/$v.probe" && cmode=conntrack
	icmp_in_owner=0
	grep -Eq '^ +netns +netfilter *$' "$W/$v.probe" && icmp_in_owner=
	awk -v v="$v" '$1 ~ /^(flow|listen|bind|sock|netns)$/ && NF == 2 { h = $1; print "KT|probe " v " " $1 " " $2 }
		$2 == "refused:" { r = $0; sub(/^ *[a-z_]+ +refused: */, "", r); print "KT|refused " v " " h " " $1 ": " r }
		/^ebpf: not usable/ { r = $0; sub(/^ebpf: not usable: */, "", r); print "KT|probe-why " v " " r }' "$W/$v.probe"

	: >"$W/$v.json"
	# shellcheck disable=SC2086
	"$FT" --json --events --duration 300 -t 0.5 $opt >"$W/$v.json" 2>"$W/$v.err" &
	ftpid=$!
	# ready when a canary flow made after the start shows up (attributed, in ebpf mode)
	n=0
	ready=0
	while [ "$n" -lt 40 ]; do
		if ! kill -0 "$ftpid" 2>/dev/null; then
			say "error $v flowtop exited early: $(tr '\n' ' ' <"$W/$v.err")"
			break
		fi
		"$NET" client canary icmp $B4 >"$W/$v.canary" 2>/dev/null
		sleep 0.5
		if "$NET" check "$cmode" "$W/$v.canary" "$W/$v.json" quiet >/dev/null; then
			ready=1
			break
		fi
		n=$((n + 1))
	done
	t1=$(now)
	# not ready (no canary attributed): make the flows anyway, the check says what went wrong
	[ "$ready" = 1 ] || say "error $v no canary flow attributed after $n tries ($cmode mode)"
	if kill -0 "$ftpid" 2>/dev/null && start_servers; then
		flows "$W/$v.exp"
		sleep 2		# flows wait up to 1 s for their record; then one more dump
	else
		: >"$W/$v.exp"
	fi
	kill -TERM "$ftpid" 2>/dev/null
	wait "$ftpid"
	rc=$?
	stop_servers
	[ "$hidden" = 1 ] && umount /sys/kernel/btf
	[ -s "$W/$v.err" ] && sed 's/^/flowtop stderr: /' "$W/$v.err"
	say "summary $v $("$NET" summary "$W/$v.json")"
	if [ -s "$W/$v.exp" ]; then
		"$NET" check "$cmode" "$W/$v.exp" "$W/$v.json" >"$W/$v.check"
		sed -n 's/^  /KT|flow '"$v"' /p' "$W/$v.check"
		res=$(sed -n 's/^RESULT //p' "$W/$v.check")
	else
		res="right=0 total=0 found=0 attributed=0"
	fi
	t2=$(now)
	say "result $v $res check=$cmode exit=$rc ready_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') total_s=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')"
}

say "begin $(uname -r) btf=$([ -r /sys/kernel/btf/vmlinux ] && echo yes || echo no)"
if setup >"$W/setup.log" 2>&1; then
	for v in "$@"; do
		run_variant "$v"
	done
else
	cat "$W/setup.log"
	say "error setup $(tail -n 1 "$W/setup.log")"
fi
for f in "$W"/peer-*.pid; do
	[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
[ -n "$PEER" ] && kill "$PEER" 2>/dev/null
"$IP" link del kt0 2>/dev/null
say "end"
