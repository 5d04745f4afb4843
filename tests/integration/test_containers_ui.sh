#!/usr/bin/env bash
# test_containers_ui.sh - the Containers tab as a person sees it: flowtop in tmux, watching a
# fresh netns where a process in a cgroup laid out like a Docker container connects.
#
#   tests/integration/test_containers_ui.sh [path/to/flowtop]   (default build/flowtop; root, tmux)
#
# One line per check: "PASS name", "FAIL name: why", "SKIP name: reason". Exit 1 on any FAIL.

set -u

bin=${1:-build/flowtop}
ns=ft-cui-$$
sock=ft-cui-$$			# a tmux server of our own: other sessions are left alone
sess=cui
port=40223
cols=140			# wide enough for the Flows tab's CONTAINER column
lines=30
short=0123456789ab
# a full Docker id: 64 hex digits, unique per run so that runs do not share a cgroup
cid=$short$(printf '%052x' $$)
label=docker:$short
failed=0
checks="header containers-row containers-enter container-column container-column-80
	containers-esc quit-status"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

skip_all() {
	for c in $checks; do
		echo "SKIP $c: $1"
	done
	exit 0
}

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, cgroups, conntrack)"
for cmd in tmux ip iptables python3 nsenter; do
	command -v $cmd >/dev/null 2>&1 || skip_all "$cmd is not installed"
done
[ -x "$bin" ] || skip_all "no flowtop binary at $bin (run make first)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

# The cgroup v2 hierarchy: /sys/fs/cgroup on unified hosts, .../unified on hybrid ones.
cgroot=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
	/proc/self/mountinfo | head -1)
[ -n "$cgroot" ] && [ -d "$cgroot" ] || skip_all "no cgroup v2 hierarchy mounted"

tm() { tmux -L "$sock" "$@"; }

slice=$cgroot/system.slice
made_slice=0
cg=$slice/docker-$cid.scope
client=$(mktemp "${TMPDIR:-/tmp}/ft-cui-client.XXXXXX")
server=$(mktemp "${TMPDIR:-/tmp}/ft-cui-server.XXXXXX")

cleanup() {
	local i
	tm kill-server >/dev/null 2>&1
	# only what we started: the processes inside our namespace and our cgroup
	for pid in $(ip netns pids "$ns" 2>/dev/null) $(cat "$cg/cgroup.procs" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	for ((i = 0; i < 25; i++)); do
		[ -z "$(cat "$cg/cgroup.procs" 2>/dev/null)" ] && break
		sleep 0.2
	done
	[ -d "$cg" ] && rmdir "$cg" 2>/dev/null
	[ "$made_slice" = 1 ] && rmdir "$slice" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -f "$client" "$server"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ ! -d "$slice" ]; then
	mkdir "$slice" 2>/dev/null || skip_all "cannot create $slice"
	made_slice=1
fi
mkdir "$cg" 2>/dev/null || skip_all "cannot create the cgroup $cg"
ip netns add "$ns" || skip_all "cannot create a network namespace"
ip -n "$ns" link set lo up
# nsenter, not ip netns exec: that one mounts its own /sys, without the cgroup hierarchy
nsx() { nsenter --net=/run/netns/"$ns" "$@"; }
if ! nsx iptables -I OUTPUT -m conntrack --ctstate NEW -j ACCEPT 2>/dev/null; then
	skip_all "cannot add an iptables conntrack rule (no nf_conntrack?)"
fi

cat >"$server" <<EOF
import socket, threading, time
end = time.time() + 120
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", $port))
srv.listen(4)
def serve(c):
    try:
        while time.time() < end:
            c.sendall(b"x" * 2048)
            time.sleep(0.1)
    except OSError:
        pass
while time.time() < end:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
# one TCP connection, held open and read from, for at most 120 s
cat >"$client" <<EOF
import socket, time
end = time.time() + 120
s = socket.create_connection(("127.0.0.1", $port))
while time.time() < end:
    s.recv(65536)
EOF
nsx python3 "$server" >/dev/null 2>&1 &

tm -f /dev/null new-session -d -s "$sess" -x "$cols" -y "$lines" \
	"env -i PATH=$PATH TERM=screen-256color LANG=C.UTF-8 PS1='$ ' bash --norc --noprofile -i" ||
	skip_all "tmux cannot start a session"
tm set-option -t "$sess" window-size manual >/dev/null 2>&1

screen() { tm capture-pane -p -t "$sess" 2>/dev/null; }
keys() { tm send-keys -t "$sess" "$@"; }
running() {
	[ "$(tm display-message -p -t "$sess" '#{pane_current_command}' 2>/dev/null)" = flowtop ]
}
lines_of() { screen | sed -n "$1" | tr '\n' '|'; }

alive() {
	running && return 0
	fail "$1" "flowtop is not running any more"
	return 1
}

wait_for() {
	local i
	for ((i = 0; i < ${2:-50}; i++)); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	return 1
}

wait_gone() {
	local i
	for ((i = 0; i < ${2:-50}; i++)); do
		screen | grep -Eq -- "$1" || return 0
		sleep 0.2
	done
	return 1
}

keys "$bin --netns $ns -t 0.5; echo FT_EXIT=\$?" Enter
if wait_for '^flowtop [0-9]' && wait_for '\[Flows\] +Processes +Containers ' 5; then
	pass header
else
	fail header "no header with a Containers tab: $(lines_of 1,3p)"
fi

# Started after flowtop, so the attribution sees the connection being made. The shell moves
# itself into the container's cgroup, then becomes the client inside the namespace.
sh -c 'echo $$ >"$1/cgroup.procs" && exec nsenter --net=/run/netns/"$2" python3 "$3"' \
	sh "$cg" "$ns" "$client" >/dev/null 2>&1 &

row_re="python[0-9.]* +$label +tcp4 .* $port "
wait_for "$row_re" 75

keys Tab
keys Tab
if ! alive containers-row; then
	:
elif wait_for '\[Containers\]' 25 && wait_for "^ *$label +1 " 50; then
	pass containers-row
else
	fail containers-row "no '$label' row with 1 flow in the Containers tab: $(lines_of 2,8p)"
fi

# the cursor onto the container's row, then Enter: its flows
for ((i = 0; i < 10; i++)); do
	screen | sed -n 4p | grep -q "$label" && break
	keys j
	sleep 0.2
done
keys Enter
if ! alive containers-enter; then
	:
elif wait_for '\[Flows\]' 25 && wait_for "container \"$label\"" 25 &&
     wait_for "$row_re" 25; then
	if screen | sed -n '4,$p' | grep -E '(tcp|udp|icmp)[46]' | grep -vq "$label"; then
		fail containers-enter "flows of other containers are still shown: $(lines_of 3,8p)"
	else
		pass containers-enter
	fi
else
	fail containers-enter "Enter did not show the container's flows: $(lines_of 1,6p)"
fi

if running && screen | sed -n 3p | grep -q 'CONTAINER'; then
	pass container-column
else
	fail container-column "no CONTAINER column at $cols columns: $(lines_of 3,4p)"
fi

tm resize-window -t "$sess" -x 80 -y "$lines"
sleep 1
if ! alive container-column-80; then
	:
elif wait_for '\[Flows\]' 25 && wait_for 'PROTO' 25 && ! screen | sed -n 3p | grep -q CONTAINER
then
	pass container-column-80
else
	fail container-column-80 "a CONTAINER column at 80 columns: $(lines_of 3,4p)"
fi
tm resize-window -t "$sess" -x "$cols" -y "$lines"

keys Escape
if ! alive containers-esc; then
	:
elif wait_gone 'container "' 25; then
	pass containers-esc
else
	fail containers-esc "Esc did not clear the container filter: $(lines_of 2p)"
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

exit $failed
