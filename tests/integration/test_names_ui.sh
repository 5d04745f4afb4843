#!/usr/bin/env bash
# test_names_ui.sh - DNS names in the ncurses view, in tmux, watching fresh namespaces.
#
#   tests/integration/test_names_ui.sh [path/to/flowtop]   (default build/flowtop; root, tmux)
#
# flowtop runs inside each namespace (ip netns exec), so its resolver is the namespace's own
# /etc/netns/NS/resolv.conf: dnsfake.py on 127.0.0.1:53.
#   names view (160x40): the ADDR column shows a PTR name marked "~host3-ptr.test", a name
#     the program asked for unmarked "web.test" (eBPF only), evil names (ESC [ 3 1 m, BEL,
#     0xff 0xfe, a dot inside a label) sanitized with '?' and lower-cased, no bell rung, no
#     colour injected; n shows addresses and n again names, each within 1 s.
#   silent resolver (80x24, then 160x40): 200 flows to distinct addresses, a resolver that
#     never answers: addresses shown, and ?, help closing, o (sort), Space + PgDn (scroll
#     while paused), n, q each take effect within 1 s.
# One line per check: "PASS name", "FAIL name: why", "SKIP name: reason". Exit 1 on any FAIL.

set -u

bin=${1:-build/flowtop}
here=$(cd "$(dirname "$0")" && pwd)
dnsfake=$here/dnsfake.py
ns=ft-nui-$$			# the names view
ns2=ft-nus-$$			# the silent resolver
sock=ft-nui-$$			# a tmux server of our own: other sessions are left alone
sess=names
port=8080
budget=1000			# ms a key may take to show its effect
failed=0
made_etc_netns=0
checks="ptr-mark asked-unmarked long-name-domain evil-ptr-sanitized evil-asked-sanitized no-bell no-injected-colour
	key-n-addresses key-n-names quit-status"
for sz in 80x24 160x40; do
	for c in start addresses help help-close sort scroll key-n quit; do
		checks="$checks silent-$c-$sz"
	done
done

pass() { echo "PASS names-ui.$1"; }
fail() { echo "FAIL names-ui.$1: $2"; failed=1; }
skip() { echo "SKIP names-ui.$1: $2"; }

skip_all() {
	for c in $checks; do
		skip "$c" "$1"
	done
	exit 0
}

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, conntrack)"
[ -n "${FLOWTOP_TEST_SKIP:-}" ] && skip_all "$FLOWTOP_TEST_SKIP"
for t in tmux ip iptables python3; do
	command -v "$t" >/dev/null 2>&1 || skip_all "$t is not installed"
done
[ -x "$bin" ] || skip_all "no flowtop binary at $bin (run make first)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

tm() { tmux -L "$sock" "$@"; }

cleanup() {
	tm kill-server >/dev/null 2>&1
	local n pid
	for n in "$ns" "$ns2"; do
		for pid in $(ip netns pids "$n" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$n" 2>/dev/null
		rm -rf "/etc/netns/$n"
	done
	[ "$made_etc_netns" = 1 ] && rmdir /etc/netns 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# setup_ns NS ADDR...: lo up with the addresses, conntrack active, resolver 127.0.0.1
setup_ns() {
	local n=$1 a
	shift
	ip netns add "$n" || return 1
	ip -n "$n" link set lo up
	ip netns exec "$n" iptables -w -I OUTPUT -m conntrack --ctstate NEW -j ACCEPT 2>/dev/null ||
		return 1
	for a in "$@"; do
		ip -n "$n" addr add "$a/32" dev lo || return 1
	done
	if [ ! -d /etc/netns ]; then
		mkdir /etc/netns && made_etc_netns=1
	fi
	mkdir -p "/etc/netns/$n"
	echo "nameserver 127.0.0.1" >"/etc/netns/$n/resolv.conf"
	if [ -e /etc/nsswitch.conf ]; then
		printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"/etc/netns/$n/nsswitch.conf"
	fi
}

# in NS CMD...: a background helper inside the namespace, bounded by its own --max-time/--hold
in_ns() {
	local n=$1
	shift
	ip netns exec "$n" python3 "$dnsfake" "$@" </dev/null >/dev/null 2>&1 &
	disown
}

# ready NS PORT: wait (<= 5 s) until something listens on PORT (udp or tcp) inside NS
ready() {
	local i
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$1" ss -Hlnu "sport = :$2" 2>/dev/null | grep -q . && return 0
		ip netns exec "$1" ss -Hlnt "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

long=a-very-long-service-name-for-testing.eu-west-3.compute.internal.example.org
setup_ns "$ns" 10.77.0.2 10.77.0.3 10.77.0.4 10.77.0.5 10.77.0.9 10.77.0.13 10.77.1.1 ||
	skip_all "cannot set up a network namespace with conntrack (no nf_conntrack?)"
setup_ns "$ns2" 10.77.0.9 10.77.1.1 || skip_all "cannot set up a second network namespace"
ip -n "$ns2" route add local 10.78.0.0/16 dev lo

in_ns "$ns" serve --listen 127.0.0.1 --max-time 300 --a web.test=10.77.0.2 --a "$long=10.77.0.5" \
	--a canary.test=10.77.0.9 --ptr 10.77.0.3=host3-ptr.test --evil-ptr 10.77.0.13 \
	--evil-a 10.77.0.4
in_ns "$ns" sink --port "$port" --max-time 300
in_ns "$ns2" serve --listen 127.0.0.1 --max-time 300 --silent
in_ns "$ns2" sink --port "$port" --max-time 300
if ! { ready "$ns" 53 && ready "$ns" "$port" && ready "$ns2" 53 && ready "$ns2" "$port"; }; then
	skip_all "the test's DNS server or sink did not start"
fi

# Can flowtop see the names programs ask for here (eBPF mode with the DNS capture)?
asked=$(ip netns exec "$ns" "$bin" --json --once -t 0.2 2>/dev/null | python3 -c '
import json, sys
s = {}
for l in sys.stdin:
    try:
        o = json.loads(l)
    except ValueError:
        continue
    if o.get("type") == "summary":
        s = o
n = s.get("names") or {}
print("yes" if s.get("mode") == "ebpf" and n.get("asked") else
      "no: mode %s, names.asked %s (%s)" % (s.get("mode"), n.get("asked"), n.get("asked_why")))')

# A plain shell in the pane: flowtop is started from it, its exit status is echoed.
tm -f /dev/null new-session -d -s "$sess" -x 160 -y 40 \
	"env -i PATH=$PATH TERM=screen-256color LANG=C.UTF-8 PS1='$ ' bash --norc --noprofile -i" ||
	skip_all "tmux cannot start a session"
tm set-option -t "$sess" window-size manual >/dev/null 2>&1

screen() { tm capture-pane -p -t "$sess" 2>/dev/null; }
keys() { tm send-keys -t "$sess" "$@"; }
lines_of() { screen | sed -n "$1" | tr '\n' '|'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# within MS REGEX: a screen line matches within MS milliseconds (polled every 50 ms)
within() {
	local end=$(($(now_ms) + $1))
	while :; do
		screen | grep -Eq -- "$2" && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.05
	done
}
# gone_within MS REGEX: no screen line matches within MS milliseconds
gone_within() {
	local end=$(($(now_ms) + $1))
	while :; do
		screen | grep -Eq -- "$2" || return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.05
	done
}
# text_within MS TEXT: the fixed string TEXT is on the screen within MS milliseconds
text_within() {
	local end=$(($(now_ms) + $1))
	while :; do
		screen | grep -Fq -- "$2" && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.05
	done
}
sgr_set() { tm capture-pane -p -e -t "$sess" | grep -ao $'\e\[[0-9;:]*m' | sort -u | cat -v; }

# ---------------------------------------------------------------------------- names view

keys "ip netns exec $ns $bin -t 0.5; echo FT_EXIT=\$?" Enter
if ! within 10000 '^flowtop [0-9]'; then
	for c in ptr-mark asked-unmarked evil-ptr-sanitized evil-asked-sanitized no-bell \
		no-injected-colour key-n-addresses key-n-names quit-status; do
		fail "$c" "flowtop did not start in the names view: $(lines_of 1,4p)"
	done
else
	# the DNS capture is attached once a canary flow shows the name it asked for
	if [ "$asked" = yes ]; then
		for ((i = 0; i < 20; i++)); do
			ip netns exec "$ns" python3 "$dnsfake" client --query canary.test \
				--connect "$port" --proto udp --bind 10.77.1.1 </dev/null >/dev/null 2>&1
			text_within 500 canary.test && break
		done
	fi
	hold=(--hold 120 --connect "$port" --bind 10.77.1.1)
	in_ns "$ns" client --gai web.test "${hold[@]}"
	in_ns "$ns" client --addr 10.77.0.3 "${hold[@]}"
	in_ns "$ns" client --evil-qname --server 127.0.0.1 "${hold[@]}"
	in_ns "$ns" client --addr 10.77.0.13 "${hold[@]}"

	named=0
	if text_within 10000 '~host3-ptr.test'; then
		pass ptr-mark
		named=1
	else
		fail ptr-mark "no '~host3-ptr.test' in the ADDR column: $(lines_of 3,12p)"
	fi
	if [ "$asked" != yes ]; then
		skip asked-unmarked "names asked for are not seen here ($asked)"
	elif within 5000 '(^|[[:space:]])web\.test' && ! screen | grep -q '~web\.test'; then
		pass asked-unmarked
	else
		fail asked-unmarked "no unmarked 'web.test' row for the flow made after resolving it: $(lines_of 3,12p)"
	fi
	# a long name in a narrow column keeps its start and its domain (the middle goes)
	if [ "$asked" != yes ]; then
		skip long-name-domain "names asked for are not seen here ($asked)"
	else
		in_ns "$ns" client --gai "$long" "${hold[@]}"
		tm resize-window -t "$sess" -x 80 -y 24
		if within 5000 'a-very-[^ ]*ple\.org '; then
			pass long-name-domain
		else
			fail long-name-domain "no 'a-very-...ple.org' at 80 columns: $(lines_of 3,12p)"
		fi
		tm resize-window -t "$sess" -x 160 -y 40
		sleep 0.5
	fi
	# evil names: lower case, '?' for every byte outside [a-z0-9-_] (the column may cut the end)
	evil=0
	if text_within 5000 '~??31mred'; then
		pass evil-ptr-sanitized
		evil=1
	elif [ "$named" = 1 ] && screen | grep -q '10\.77\.0\.13'; then
		skip evil-ptr-sanitized "the evil PTR answer was refused as a whole (address shown)"
	else
		fail evil-ptr-sanitized "neither '~??31mred...' nor 10.77.0.13 on the screen: $(lines_of 3,12p)"
	fi
	if [ "$asked" != yes ]; then
		skip evil-asked-sanitized "names asked for are not seen here ($asked)"
	elif text_within 5000 'q??31mx'; then
		pass evil-asked-sanitized
		evil=1
	else
		fail evil-asked-sanitized "no 'q??31mx...' (the evil name asked for, sanitized): $(lines_of 3,12p)"
	fi
	bell=$(tm display-message -p -t "$sess" '#{window_bell_flag}')
	if [ "$bell" = 0 ]; then
		pass no-bell
	else
		fail no-bell "the terminal's bell rang (BEL from a name reached it?)"
	fi
	sleep 0.6
	on=$(sgr_set)
	keys n
	if [ "$named" = 0 ]; then
		fail key-n-addresses "no name was shown to begin with"
	elif text_within "$budget" 10.77.0.3 && gone_within "$budget" '~host3-ptr'; then
		pass key-n-addresses
	else
		fail key-n-addresses "within 1 s of n: no 10.77.0.3 or '~host3-ptr.test' still there: $(lines_of 3,12p)"
	fi
	off=$( (sgr_set; sleep 0.5; sgr_set) | sort -u)
	extra=$(comm -23 <(echo "$on") <(echo "$off") | tr '\n' ' ')
	if [ "$evil" = 0 ]; then
		skip no-injected-colour "no evil name was shown"
	elif [ -z "$extra" ]; then
		pass no-injected-colour
	else
		fail no-injected-colour "attributes only while the evil names are shown: $extra"
	fi
	keys n
	if [ "$named" = 0 ]; then
		fail key-n-names "no name was shown to begin with"
	elif text_within "$budget" '~host3-ptr.test'; then
		pass key-n-names
	else
		fail key-n-names "a second n did not bring the names back within 1 s: $(lines_of 3,12p)"
	fi
	keys q
	if within 5000 '^FT_EXIT='; then
		rc=$(screen | sed -n 's/^FT_EXIT=\([0-9]*\).*/\1/p' | tail -1)
		if [ "$rc" = 0 ]; then
			pass quit-status
		else
			fail quit-status "flowtop exited with status $rc after q"
		fi
	else
		fail quit-status "flowtop did not exit after q"
		keys C-c
	fi
fi

# ---------------------------------------------------------------------------- silent resolver

# 200 UDP flows to distinct addresses, kept alive (bounded: 150 s)
ip netns exec "$ns2" python3 "$dnsfake" spray --count 200 --net 10.78 --port "$port" \
	--bind 10.77.1.1 --hold 150 --every 5 </dev/null >/dev/null 2>&1 &
disown

sorts() { screen | sed -n 2p | grep -Eo 'sort:? [a-z]+' | head -1; }
addrs() { screen | grep -Eo '10\.78\.[0-9]+\.[0-9]+' | sort | tr '\n' ' '; }

for sz in 80x24 160x40; do
	keys clear Enter
	tm resize-window -t "$sess" -x "${sz%x*}" -y "${sz#*x}"
	sleep 0.3
	keys "ip netns exec $ns2 $bin -t 0.5; echo FT_EXIT=\$?" Enter
	if ! within 10000 '^flowtop [0-9]'; then
		for c in start addresses help help-close sort scroll key-n quit; do
			fail "silent-$c-$sz" "flowtop did not start: $(lines_of 1,4p)"
		done
		keys C-c
		continue
	fi
	pass "silent-start-$sz"
	if within 10000 '10\.78\.[0-9]+\.[0-9]+'; then
		pass "silent-addresses-$sz"
	else
		fail "silent-addresses-$sz" "no 10.78.x.y address on the screen: $(lines_of 3,10p)"
	fi
	sleep 1		# lookups are under way (and never answered)
	keys '?'
	if within "$budget" 'flowtop help'; then
		pass "silent-help-$sz"
	else
		fail "silent-help-$sz" "? did not show the help within 1 s"
	fi
	keys j
	if gone_within "$budget" 'flowtop help'; then
		pass "silent-help-close-$sz"
	else
		fail "silent-help-close-$sz" "a key did not close the help within 1 s"
		keys Escape
	fi
	before=$(sorts)
	keys o
	end=$(($(now_ms) + budget))
	while [ "$(sorts)" = "$before" ] && [ "$(now_ms)" -lt "$end" ]; do
		sleep 0.05
	done
	now=$(sorts)
	if [ -n "$before" ] && [ "$now" != "$before" ]; then
		pass "silent-sort-$sz"
	else
		fail "silent-sort-$sz" "o did not change '$before' within 1 s (now '$now'): $(lines_of 2p)"
	fi
	# paused, the rows stand still: PgDn must show others
	keys Space
	if within "$budget" 'PAUSED'; then
		sleep 0.2
		top=$(addrs)
		keys NPage
		end=$(($(now_ms) + budget))
		while [ "$(addrs)" = "$top" ] && [ "$(now_ms)" -lt "$end" ]; do
			sleep 0.05
		done
		if [ -n "$top" ] && [ "$(addrs)" != "$top" ]; then
			pass "silent-scroll-$sz"
		else
			fail "silent-scroll-$sz" "PgDn did not show other rows within 1 s: $(lines_of 3,8p)"
		fi
		keys Space
		gone_within "$budget" 'PAUSED' >/dev/null
	else
		fail "silent-scroll-$sz" "Space did not pause the view within 1 s"
	fi
	# n, then ?: both answered within 1 s, addresses still shown
	t0=$(now_ms)
	keys n
	keys '?'
	if within "$budget" 'flowtop help'; then
		keys j
		if gone_within "$budget" 'flowtop help' && within "$budget" '10\.78\.[0-9]+\.[0-9]+'; then
			pass "silent-key-n-$sz"
		else
			fail "silent-key-n-$sz" "after n the rows with addresses did not come back: $(lines_of 3,8p)"
		fi
	else
		fail "silent-key-n-$sz" "after n, ? took more than 1 s ($(($(now_ms) - t0)) ms so far)"
	fi
	keys q
	if within "$budget" '^FT_EXIT='; then
		pass "silent-quit-$sz"
	else
		fail "silent-quit-$sz" "q did not end flowtop within 1 s"
		within 5000 '^FT_EXIT=' || keys C-c
	fi
done

exit $failed
