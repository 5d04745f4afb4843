#!/usr/bin/env bash
# test_ui.sh - the ncurses view as a person sees it: flowtop in tmux, watching a fresh netns.
#
#   tests/integration/test_ui.sh [path/to/flowtop]      (default build/flowtop; needs root, tmux)
#
# One line per check: "PASS name", "FAIL name: why", "SKIP name: reason". Exit 1 on any FAIL.

set -u

bin=${1:-build/flowtop}
ns=ft-ui-$$
sock=ft-ui-$$			# a tmux server of our own: other sessions are left alone
sess=ui
port=40123			# no service name: the PORT column shows the number
uport=40999
cols=100
lines=30
failed=0
checks="header flow-row sort-key toggle-tcp filter-hides filter-nothing help-open help-close
	latency-overlay
	processes-tab containers-tab destinations-tab resize-40x12 resize-1x1 resize-back quit-status terminal-restored
	all-netns-column sysctl-restored"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

skip_all() {
	for c in $checks; do
		echo "SKIP $c: $1"
	done
	exit 0
}

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, conntrack)"
command -v tmux >/dev/null 2>&1 || skip_all "tmux is not installed"
command -v ip >/dev/null 2>&1 || skip_all "ip (iproute2) is not installed"
command -v iptables >/dev/null 2>&1 || skip_all "iptables is not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
[ -x "$bin" ] || skip_all "no flowtop binary at $bin (run make first)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

tm() { tmux -L "$sock" "$@"; }

cleanup() {
	tm kill-server >/dev/null 2>&1
	# only what runs inside our own namespace: the traffic maker
	for pid in $(ip netns pids "$ns" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null
	rm -f "$traffic"
}
traffic=$(mktemp "${TMPDIR:-/tmp}/ft-ui-traffic.XXXXXX")
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns" || skip_all "cannot create a network namespace"
ip -n "$ns" link set lo up
if ! ip netns exec "$ns" iptables -I OUTPUT -m conntrack --ctstate NEW -j ACCEPT 2>/dev/null; then
	skip_all "cannot add an iptables conntrack rule (no nf_conntrack?)"
fi
acct0=$(ip netns exec "$ns" sysctl -n net.netfilter.nf_conntrack_acct 2>/dev/null)
ts0=$(ip netns exec "$ns" sysctl -n net.netfilter.nf_conntrack_timestamp 2>/dev/null)

# TCP connections that stay open and carry data, and one UDP flow, for at most 120 s.
cat >"$traffic" <<EOF
import socket, threading, time
end = time.time() + 120
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", $port))
srv.listen(16)
def serve(c):
    try:
        while time.time() < end:
            c.sendall(b"x" * 2048)
            time.sleep(0.1)
    except OSError:
        pass
def accept():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
keep = []
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while time.time() < end:
    if len(keep) < 4:
        keep.append(socket.create_connection(("127.0.0.1", $port)))
    for s in keep:
        s.setblocking(False)
        try:
            s.recv(65536)
        except OSError:
            pass
    u.sendto(b"ping", ("127.0.0.1", $uport))
    time.sleep(0.5)
EOF
ip netns exec "$ns" python3 "$traffic" >/dev/null 2>&1 &

# A plain shell in the pane: after flowtop quits, what it left behind is visible there.
tm -f /dev/null new-session -d -s "$sess" -x "$cols" -y "$lines" \
	"env -i PATH=$PATH TERM=screen-256color LANG=C.UTF-8 PS1='$ ' bash --norc --noprofile -i" ||
	skip_all "tmux cannot start a session"
tm set-option -t "$sess" window-size manual >/dev/null 2>&1

screen() { tm capture-pane -p -t "$sess" 2>/dev/null; }
keys() { tm send-keys -t "$sess" "$@"; }
running() {
	[ "$(tm display-message -p -t "$sess" '#{pane_current_command}' 2>/dev/null)" = flowtop ]
}
lines_of() { screen | sed -n "$1" | tr '\n' '|'; }	# lines_of SED-RANGE: for FAIL reasons

# alive NAME: false (and FAIL NAME) when flowtop is no longer running, so checks do not wait in vain
alive() {
	running && return 0
	fail "$1" "flowtop is not running any more"
	return 1
}

# wait_for REGEX [TRIES]: poll the screen (0.2 s apart) until a line matches
wait_for() {
	local i
	for ((i = 0; i < ${2:-50}; i++)); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	return 1
}

# wait_gone REGEX [TRIES]: poll until no line matches
wait_gone() {
	local i
	for ((i = 0; i < ${2:-50}; i++)); do
		screen | grep -Eq -- "$1" || return 0
		sleep 0.2
	done
	return 1
}

# a flow row: the command, "tcp4" and the port
row_re="python[0-9.]* +tcp4 .* $port "

keys "$bin --netns $ns -t 0.5; echo FT_EXIT=\$?" Enter

if wait_for '^flowtop [0-9]' && wait_for '\[Flows\]' 5; then
	pass header
else
	fail header "no 'flowtop <version>' / '[Flows]' header: $(lines_of 1,3p)"
fi

if wait_for "$row_re" 75; then
	pass flow-row
else
	fail flow-row "no row with python3, tcp4 and port $port: $(lines_of 3,6p)"
fi

before=$(screen | sed -n 2p | grep -Eo 'sort [a-z]+')
keys o
if ! alive sort-key; then
	:
elif wait_for '^.*sort bytes' 25; then
	pass sort-key
else
	now=$(screen | sed -n 2p | grep -Eo 'sort [a-z]+ [a-z]+')
	fail sort-key "after o the header says '$now' (was '$before', expected 'sort bytes')"
fi

keys T
if ! alive toggle-tcp; then
	:
elif wait_for '(^| )tcp UDP' 25 && wait_gone "$row_re" 25; then
	keys T
	if wait_for '(^| )TCP UDP' 25 && wait_for "$row_re" 25; then
		pass toggle-tcp
	else
		fail toggle-tcp "a second T did not bring the TCP rows back"
	fi
else
	fail toggle-tcp "after T the TCP rows are still shown or the header is not 'tcp UDP'"
	keys T
fi

running && ! screen | grep -q 'udp4' && wait_for 'udp4' 25
keys /
keys -l "$port"
keys Enter
if ! alive filter-hides; then
	:
elif wait_for "filter \"$port\"" 25 && wait_gone 'udp4' 25 && wait_for "$row_re" 10; then
	pass filter-hides
else
	fail filter-hides "filter '$port' did not leave only the TCP rows: $(lines_of 3,7p)"
fi
keys Escape
running && wait_gone 'filter "' 25

keys /
keys -l zzqqxxnothing
keys Enter
if ! alive filter-nothing; then
	:
elif wait_for 'matches nothing' 25 && wait_gone "$row_re" 5; then
	pass filter-nothing
else
	fail filter-nothing "no 'matches nothing' text for a nonsense filter"
fi
keys Escape
if running && ! wait_gone 'filter "' 25; then
	# Esc did not clear it: an empty filter prompt must
	keys /
	keys Enter
	wait_gone 'filter "' 25
fi

keys '?'
if ! alive help-open; then
	:
elif wait_for 'flowtop help' 25 && screen | grep -q 'quit'; then
	pass help-open
else
	fail help-open "? did not show the help screen"
fi
keys j
if ! alive help-close; then
	:
elif wait_gone 'flowtop help' 25 && wait_for '\[Flows\]' 10; then
	pass help-close
else
	fail help-close "a key did not close the help screen"
fi

# L: the event loop's latency on the status line, and off again
keys L
if ! alive latency-overlay; then
	:
elif wait_for '^loop p50 [0-9]+us p99 [0-9]+us max [0-9]+us' 25; then
	keys L
	if wait_gone '^loop p50 ' 25; then
		pass latency-overlay
	else
		fail latency-overlay "a second L did not take the latency line away"
	fi
else
	fail latency-overlay "L did not show 'loop p50 .. p99 .. max ..': $(lines_of '$p')"
fi

keys Tab
if ! alive processes-tab; then
	:
elif wait_for '\[Processes\]' 25 && wait_for '^ +[0-9]+ python[0-9.]* ' 25; then
	pass processes-tab
else
	fail processes-tab "Tab did not show a python3 row in Processes: $(lines_of 2,5p)"
fi
keys Tab
if ! alive containers-tab; then
	:
elif wait_for '\[Containers\]' 25 && wait_for '^ *CONTAINER +FLOWS ' 25; then
	pass containers-tab
else
	fail containers-tab "a second Tab did not show the Containers tab: $(lines_of 2,5p)"
fi
# Destinations: the loopback traffic is "loopback" both by country and, after c, by AS
keys Tab
if ! alive destinations-tab; then
	:
elif wait_for '\[Destinations\]' 25 && wait_for '^ *COUNTRY +NAME +FLOWS ' 25 &&
	wait_for '^ *loopback +- +[0-9]+ .* python[0-9.]* *$' 25; then
	keys c
	if wait_for '^ *AS +NAME +FLOWS ' 25 && wait_for '^ *loopback ' 10; then
		pass destinations-tab
	else
		fail destinations-tab "c did not switch to the AS grouping: $(lines_of 3,5p)"
	fi
else
	fail destinations-tab "a third Tab did not show loopback in Destinations: $(lines_of 2,5p)"
fi
keys Tab
running && wait_for '\[Flows\]' 25

tm resize-window -t "$sess" -x 40 -y 12
sleep 1
if running && [ -n "$(screen | tr -d ' \n')" ]; then
	pass resize-40x12
else
	fail resize-40x12 "flowtop is gone or the screen is empty at 40x12"
fi

tm resize-window -t "$sess" -x 1 -y 1
sleep 1
if running; then
	pass resize-1x1
else
	fail resize-1x1 "flowtop did not survive a 1x1 terminal"
fi

tm resize-window -t "$sess" -x "$cols" -y "$lines"
if ! alive resize-back; then
	:
elif wait_for '\[Flows\]' 25 && wait_for "$row_re" 25; then
	pass resize-back
else
	fail resize-back "no full screen after resizing back to ${cols}x$lines"
fi

keys q
if wait_for '^FT_EXIT=' 50; then
	rc=$(screen | sed -n 's/^FT_EXIT=\([0-9]*\).*/\1/p' | tail -1)
	if [ "$rc" = 0 ]; then
		pass quit-status
	else
		fail quit-status "flowtop exited with status $rc after q"
	fi
else
	fail quit-status "flowtop did not exit after q"
fi

# Curses put back: the alternate screen is gone and the tty is cooked again.
keys "stty -a | tr ' ;' '\\n\\n' | grep -Ex -- '-?(icanon|echo)' | tr '\\n' ' '; echo STTY_DONE"
keys Enter
if wait_for '^(-?icanon|-?echo) .*STTY_DONE' 25; then
	st=$(screen | grep -E '^(-?icanon|-?echo) .*STTY_DONE' | tail -1)
	if screen | grep -Eq '\[Flows\]|\[Processes\]'; then
		fail terminal-restored "the flowtop screen is still there after it quit"
	elif echo "$st" | grep -Eq -- '(^| )-(icanon|echo)( |$)'; then
		fail terminal-restored "tty left in raw mode: $st"
	else
		pass terminal-restored
	fi
else
	fail terminal-restored "the shell did not answer after flowtop quit"
fi

# --all-netns: the same flows, each with the namespace it is in
keys clear Enter
keys "$bin --all-netns -t 0.5; echo FT_EXIT=\$?" Enter
# (flows older than flowtop in another netns have no owner: the NETNS column tells them apart)
if wait_for '^flowtop [0-9].* netns all \(' 50 && wait_for " ft-ui-[0-9]*.? +tcp4 .* $port " 25; then
	pass all-netns-column
else
	fail all-netns-column "no 'netns all (N)' header or no tcp4 row with NETNS $ns: $(lines_of 1,6p)"
fi
running && keys q
wait_for '^FT_EXIT=' 25 || fail all-netns-column "flowtop --all-netns did not exit after q"

acct1=$(ip netns exec "$ns" sysctl -n net.netfilter.nf_conntrack_acct 2>/dev/null)
ts1=$(ip netns exec "$ns" sysctl -n net.netfilter.nf_conntrack_timestamp 2>/dev/null)
if [ "$acct1" = "$acct0" ] && [ "$ts1" = "$ts0" ]; then
	pass sysctl-restored
else
	fail sysctl-restored "nf_conntrack_acct/timestamp are $acct1/$ts1, were $acct0/$ts0"
fi

exit $failed
