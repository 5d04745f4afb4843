#!/usr/bin/env python3
"""ftlib - shared helpers for flowtop's integration tests (python3 stdlib only).

Used two ways:
  * imported by tests/integration/test_*.py: reporting (PASS/FAIL/SKIP lines),
    network namespaces, veth links, traffic helpers, running flowtop, reading
    `conntrack -L` for comparison, cleanup on every exit path;
  * run as a program inside a namespace (`ip netns exec NS python3 ftlib.py
    serve|client|ping|sctp-raw ...`) to make real traffic from a process whose
    PID and comm the test knows.

Output contract of a test: lines `PASS name`, `FAIL name: why`, `SKIP name: reason`
on stdout; exit 1 when anything failed, else 0.
"""

import atexit
import ctypes
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SELF = os.path.abspath(__file__)

IPPROTO_SCTP = 132
IPPROTO_UDPLITE = 136

PROTO_NUM = {"icmp": 1, "tcp": 6, "udp": 17, "dccp": 33, "gre": 47, "icmpv6": 58,
             "sctp": 132, "udplite": 136}

FLOW_FIELDS = [
    "id", "family", "proto", "state", "src", "dst", "sport", "dport",
    "reply_src", "reply_dst", "reply_sport", "reply_dport",
    "orig_packets", "orig_bytes", "reply_packets", "reply_bytes",
    "start", "age_s", "rate_orig_Bps", "rate_reply_Bps",
    "pid", "tid", "comm", "exe", "uid", "cgroup_id", "cgroup", "container",
    "netns", "attr", "src_name", "dst_name", "src_geo", "dst_geo", "service",
    "mark", "zone", "status", "timeout",
]
SUMMARY_FIELDS = ["type", "flows", "mode", "probes", "events_lost", "resyncs", "attr",
                  "netns", "acct", "timestamp", "tracking", "netns_watched", "uid", "caps",
                  "loop_us"]


# --------------------------------------------------------------------------
# reporting

def one_line(msg, limit=700):
    s = " | ".join(str(msg).splitlines())
    if len(s) > limit:
        s = s[:limit] + "..."
    return s


class Reporter:
    """Prints PASS/FAIL/SKIP lines; check names are `<test>.<check>`."""

    def __init__(self, test):
        self.test = test
        self.n = {"PASS": 0, "FAIL": 0, "SKIP": 0}

    def _emit(self, kind, name, msg=None):
        self.n[kind] += 1
        line = "%s %s.%s" % (kind, self.test, name)
        if msg is not None:
            line += ": " + one_line(msg)
        print(line, flush=True)

    def ok(self, name):
        self._emit("PASS", name)

    def fail(self, name, why):
        self._emit("FAIL", name, why)

    def skip(self, name, reason):
        self._emit("SKIP", name, reason)

    def check(self, name, cond, why=""):
        if cond:
            self.ok(name)
        else:
            self.fail(name, why or "condition false")
        return bool(cond)

    def note(self, msg):
        print("# " + one_line(msg, 2000), flush=True)

    def finish(self):
        run_cleanups()
        sys.exit(1 if self.n["FAIL"] else 0)

    def skip_all(self, reason):
        """Nothing can be tested here: one SKIP for the whole test, exit 0."""
        self._emit("SKIP", "all", reason)
        run_cleanups()
        sys.exit(0)


# --------------------------------------------------------------------------
# cleanup on every exit path

_cleanups = []
_cleanup_lock = threading.Lock()
_cleaned = False


def on_cleanup(fn):
    _cleanups.append(fn)
    return fn


def run_cleanups(final=True):
    """Undo everything registered so far; final=False lets a test go on and register more."""
    global _cleaned
    with _cleanup_lock:
        if _cleaned:
            return
        _cleaned = final
        while _cleanups:
            fn = _cleanups.pop()
            try:
                fn()
            except Exception as e:  # cleanup must go on
                print("# cleanup error: %s" % one_line(e), file=sys.stderr, flush=True)


def _on_signal(signum, frame):
    print("FAIL %s.interrupted: got signal %d" % (_TEST_NAME[0], signum), flush=True)
    run_cleanups()
    os._exit(128 + signum)


_TEST_NAME = ["test"]


def _install_handlers(test):
    _TEST_NAME[0] = test
    atexit.register(run_cleanups)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)


# --------------------------------------------------------------------------
# start-up: preconditions

def have(tool):
    return shutil.which(tool) is not None


def conntrack_supported():
    """'' when the kernel has conntrack, else the reason."""
    if os.environ.get("FLOWTOP_TEST_SKIP"):
        return os.environ["FLOWTOP_TEST_SKIP"]
    if os.path.exists("/proc/sys/net/netfilter/nf_conntrack_max"):
        return ""
    if have("modprobe"):
        subprocess.run(["modprobe", "nf_conntrack"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if os.path.exists("/proc/sys/net/netfilter/nf_conntrack_max"):
            return ""
    return "no conntrack in this kernel (/proc/sys/net/netfilter/nf_conntrack_max missing)"


def flowtop_path():
    p = None
    if len(sys.argv) > 1 and sys.argv[1]:
        p = sys.argv[1]
    elif os.environ.get("FLOWTOP"):
        p = os.environ["FLOWTOP"]
    else:
        p = os.path.join(REPO, "build", "flowtop")
    return os.path.abspath(p)


def start(test, tools=("ip", "conntrack")):
    """Common start of a test: returns (reporter, flowtop path) or exits with SKIP/FAIL."""
    _install_handlers(test)
    rep = Reporter(test)
    if os.geteuid() != 0:
        rep.skip_all("not root (network namespaces and conntrack need CAP_NET_ADMIN/CAP_SYS_ADMIN)")
    why = conntrack_supported()
    if why:
        rep.skip_all(why)
    missing = [t for t in tools if not have(t)]
    if not have("iptables") and not have("nft"):
        missing.append("iptables|nft")
    if missing:
        rep.skip_all("missing tools: %s (tools/deps.sh test installs them)" % " ".join(missing))
    ft = flowtop_path()
    if not os.access(ft, os.X_OK):
        rep.fail("binary", "flowtop binary not found or not executable: %s (run make first)" % ft)
        rep.finish()
    return rep, ft


# --------------------------------------------------------------------------
# small utilities

def run(cmd, timeout=20, check=False, input=None):
    """Run a command, return CompletedProcess (text); never hangs past timeout."""
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        r = subprocess.CompletedProcess(cmd, 124, e.stdout or "", e.stderr or "")
        if isinstance(r.stdout, bytes):
            r.stdout = r.stdout.decode(errors="replace")
        if isinstance(r.stderr, bytes):
            r.stderr = r.stderr.decode(errors="replace")
        r.stderr += "\n(timed out after %ss)" % timeout
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, one_line(r.stderr)))
    return r


def wait_until(fn, timeout, interval=0.05):
    """Poll fn() until truthy or timeout; returns the last value."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def norm_addr(a):
    if a is None:
        return None
    try:
        return str(ipaddress.ip_address(a))
    except ValueError:
        return a


def proto_num(p):
    if isinstance(p, int):
        return p
    if isinstance(p, str):
        if p.isdigit():
            return int(p)
        return PROTO_NUM.get(p, p)
    return p


def nonempty_lines(text):
    return [l for l in text.splitlines() if l.strip()]


# --------------------------------------------------------------------------
# network namespaces

_ns_counter = [0]


class Netns:
    """A network namespace made by the test, deleted at cleanup."""

    def __init__(self, tag, track=True):
        _ns_counter[0] += 1
        self.name = "ft-%s-%d-%d" % (tag, os.getpid(), _ns_counter[0])
        self.procs = []
        r = run(["ip", "netns", "add", self.name])
        if r.returncode != 0:
            raise RuntimeError("ip netns add %s: %s" % (self.name, one_line(r.stderr)))
        on_cleanup(self.destroy)
        self.path = "/run/netns/" + self.name
        self.ip("link", "set", "lo", "up")
        self.tracking = None
        if track:
            self.track()

    # -- commands inside
    def cmd(self, args):
        return ["ip", "netns", "exec", self.name] + list(args)

    def run(self, args, timeout=20, check=False, input=None):
        return run(self.cmd(args), timeout=timeout, check=check, input=input)

    def ip(self, *args):
        return run(["ip", "-n", self.name] + list(args), check=True)

    def inode(self):
        return os.stat(self.path).st_ino

    # -- conntrack activation
    def track(self):
        """Activate conntrack in this namespace by a rule that needs it."""
        if have("iptables") and have("ip6tables"):
            a = self.run(["iptables", "-w", "-I", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW",
                          "-j", "ACCEPT"])
            b = self.run(["ip6tables", "-w", "-I", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW",
                          "-j", "ACCEPT"])
            if a.returncode == 0 and b.returncode == 0:
                self.tracking = "iptables"
                return self.tracking
        if have("nft"):
            r = self.run(["nft", "-f", "-"], input=(
                "add table inet ft\n"
                "add chain inet ft out { type filter hook output priority 0; }\n"
                "add rule inet ft out ct state new accept\n"))
            if r.returncode == 0:
                self.tracking = "nft"
                return self.tracking
            raise RuntimeError("cannot activate tracking with nft: %s" % one_line(r.stderr))
        raise RuntimeError("cannot activate tracking: neither iptables nor nft work")

    # -- sysctls of this namespace
    def sysctl(self, key):
        path = "/proc/sys/" + key.replace(".", "/")
        r = self.run(["cat", path])
        if r.returncode != 0:
            return None
        return r.stdout.strip()

    def set_sysctl(self, key, value):
        path = "/proc/sys/" + key.replace(".", "/")
        self.run(["sh", "-c", "echo %s > %s" % (value, path)], check=True)

    # -- processes
    def spawn(self, args, env=None):
        p = Proc(self.cmd(args), env=env)
        self.procs.append(p)
        return p

    def helper(self, *args):
        """Run an ftlib helper (serve/client/ping/...) inside this namespace."""
        return self.spawn([sys.executable, SELF] + [str(a) for a in args])

    def destroy(self):
        for p in self.procs:
            p.kill()
        # anything else still inside (strays of flowtop helpers, sleep, ...)
        r = run(["ip", "netns", "pids", self.name], timeout=5)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        for p in self.procs:
            p.wait(2)
        run(["ip", "netns", "del", self.name], timeout=10)


# --------------------------------------------------------------------------
# entering namespaces and cgroups from worker processes (setns keeps the cgroup2 mount
# visible: `ip netns exec` remounts /sys and hides it)

_libc = None


def setns_net(path):
    """Move the calling process into the network namespace at path."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, 0x40000000) != 0:      # CLONE_NEWNET
            e = ctypes.get_errno()
            raise OSError(e, "setns(%s): %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


def cg2_root():
    """Mount point of the cgroup v2 hierarchy (/sys/fs/cgroup or .../unified), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split()[:1] == ["cgroup2"]:
                return pre.split()[4]
    return None


def remove_cgroups(dirs):
    """Kill what is left in the test's cgroup directories and remove them, deepest first."""
    for d in reversed(dirs):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
        except OSError:
            pass
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
        else:
            print("# cleanup: cannot remove cgroup %s" % d, file=sys.stderr)


def make_cgroup(rel, root=None):
    """mkdir -p rel under the cgroup v2 root; what was made is removed at cleanup.
    Returns (path, remover)."""
    cur = root or cg2_root()
    made = []
    for part in rel.strip("/").split("/"):
        cur = os.path.join(cur, part)
        if not os.path.isdir(cur):
            os.mkdir(cur)
            made.append(cur)

    def rm(dirs=made):
        remove_cgroups(dirs)
        del dirs[:]
    on_cleanup(rm)
    return cur, rm


def info(msg):
    """An INFO line: measured, printed, not asserted."""
    print("INFO " + one_line(msg, 3000), flush=True)


def worker(ns, script, kind, cfg):
    """Run `script worker KIND NETNS_PATH JSON` (a test's own worker side) for namespace ns."""
    p = Proc([sys.executable, script, "worker", kind, ns.path, json.dumps(cfg)])
    ns.procs.append(p)
    return p


def worker_output(p, timeout):
    """A worker's "KIND JSON" lines until DONE: ([(kind, text)], None) or (lines, why) when no
    DONE came within timeout."""
    out = []
    end = time.monotonic() + timeout
    while True:
        line = p.read_line(max(end - time.monotonic(), 0))
        if line is None:
            return out, "no DONE within %ss (stderr %r)" % (timeout, p.stderr_now()[-300:])
        if line == "DONE":
            return out, None
        kind, _, rest = line.partition(" ")
        out.append((kind, rest))


def bpf_progs():
    """{id: name} of loaded BPF programs, or None without bpftool."""
    if not have("bpftool"):
        return None
    r = run(["bpftool", "prog", "list", "-j"], timeout=10)
    if r.returncode != 0:
        return None
    try:
        return {p["id"]: p.get("name", "") for p in json.loads(r.stdout or "[]")}
    except ValueError:
        return None


def prog_ids_of(pid):
    """BPF program ids a process holds (program and link fds, from /proc/PID/fdinfo)."""
    ids = set()
    d = "/proc/%d/fdinfo" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return ids
    for n in names:
        try:
            with open(os.path.join(d, n)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except (OSError, ValueError):
            pass
    return ids


def ft_prog_ids(pid):
    """flowtop's BPF programs (named ft_*) that process pid holds."""
    progs = bpf_progs() or {}
    return {i for i in prog_ids_of(pid) if progs.get(i, "").startswith("ft_")}


_link_counter = [0]


def veth(ns1, ns2, addrs1=(), addrs2=()):
    """Join two namespaces by a veth pair; addrs are CIDR strings (v4 or v6).
    Returns (ifname in ns1, ifname in ns2)."""
    _link_counter[0] += 1
    a = "ftv%da" % _link_counter[0]
    b = "ftv%db" % _link_counter[0]
    run(["ip", "link", "add", a, "netns", ns1.name, "type", "veth", "peer", "name", b,
         "netns", ns2.name], check=True)
    for ns, ifn, addrs in ((ns1, a, addrs1), (ns2, b, addrs2)):
        ns.run(["sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/%s/accept_dad; "
                "echo 0 > /proc/sys/net/ipv6/conf/%s/accept_ra" % (ifn, ifn)])
        for ad in addrs:
            extra = ["nodad"] if ":" in ad else []
            ns.ip("addr", "add", ad, "dev", ifn, *extra)
        ns.ip("link", "set", ifn, "up")
    return a, b


# --------------------------------------------------------------------------
# child processes with bounded line reads

class Proc:
    def __init__(self, cmd, env=None):
        self.cmd = cmd
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        self.buf = b""
        self.lines = []
        on_cleanup(self.kill)

    def read_line(self, timeout):
        """Next stdout line (str) or None on timeout/EOF."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        s = line.decode(errors="replace")
        self.lines.append(s)
        return s

    def expect(self, prefix, timeout=10):
        """Wait for a line starting with prefix; returns its words after the prefix."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            line = self.read_line(max(left, 0))
            if line is None:
                raise RuntimeError("%s: no %r line within %ss (stderr: %s)" % (
                    " ".join(self.cmd[-6:]), prefix, timeout, one_line(self.stderr_now())))
            if line.startswith(prefix):
                return line[len(prefix):].split()

    def stderr_now(self):
        if self.p.poll() is None:
            return ""
        try:
            return self.p.stderr.read().decode(errors="replace")
        except Exception:
            return ""

    def release(self):
        """Close stdin: a helper ends when its stdin closes."""
        try:
            self.p.stdin.close()
        except Exception:
            pass

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.p.poll() is None:
            try:
                self.p.kill()
            except ProcessLookupError:
                pass
            self.wait(3)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except Exception:
                pass


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


# --------------------------------------------------------------------------
# traffic: the parent side

class Traffic:
    """One request/response exchange between a client and a server helper.

    After start() the client and the server stay alive, sockets open (unless
    close=True), until release()/cleanup, so their PIDs can be checked."""

    def __init__(self, proto, cns, sns, addr, port, send=1000, reply=2000, close=False,
                 stream=0, tag=None, family=None):
        self.proto, self.cns, self.sns = proto, cns, sns
        self.addr, self.port = addr, port
        self.family = family or ("ipv6" if ":" in addr else "ipv4")
        self.send, self.reply, self.close, self.stream = send, reply, close, stream
        self.tag = tag or proto
        self.server = self.client = None
        self.sport = None
        self.src = None
        self.server_comm = ("fts-" + self.tag)[:15]
        self.client_comm = ("ftc-" + self.tag)[:15]

    def start_server(self, count=1):
        self.server = self.sns.helper("serve", self.proto, self.addr, self.port,
                                      "--comm", self.server_comm, "--count", count)
        self.server.expect("READY")
        return self

    def run_client(self, timeout=10):
        args = ["client", self.proto, self.addr, self.port, "--send", self.send,
                "--reply", self.reply, "--comm", self.client_comm]
        if self.close:
            args.append("--close")
        if self.stream:
            args += ["--stream", self.stream]
        self.client = self.cns.helper(*args)
        words = self.client.expect("DONE", timeout)
        self.src, self.sport = words[0], int(words[1])
        return self

    def start(self):
        self.start_server()
        self.run_client()
        return self

    def orig(self):
        """(family, protonum, src, dst, sport, dport) as conntrack sees it in the client's netns."""
        return (self.family, proto_num(self.proto), norm_addr(self.src), norm_addr(self.addr),
                self.sport, self.port)

    def release(self):
        for p in (self.client, self.server):
            if p:
                p.release()
        for p in (self.client, self.server):
            if p and p.wait(3) is None:
                p.kill()


def ping(ns, addr, ident, count=1, timeout=10):
    """ICMP/ICMPv6 echo from a raw socket inside ns; returns the helper Proc (already done)."""
    p = ns.helper("ping", addr, "--id", ident, "--count", count)
    p.expect("DONE", timeout)
    p.wait(3)
    return p


def sctp_flow(ns, addr, sport, dport):
    """SCTP flow on loopback: real sockets when the kernel has SCTP, else a raw-packet
    four-way handshake (conntrack tracks SCTP even without the SCTP stack).
    Returns (Traffic or None, how) where how is 'socket' or 'raw'."""
    probe = ns.run([sys.executable, SELF, "sctp-probe"])
    if probe.returncode == 0:
        t = Traffic("sctp", ns, ns, addr, dport, send=500, reply=700)
        t.start()
        return t, "socket"
    p = ns.helper("sctp-raw", addr, sport, dport)
    p.expect("DONE", 10)
    p.wait(3)
    return None, "raw"


# --------------------------------------------------------------------------
# flowtop

class Result:
    def __init__(self, rc, out, err, elapsed):
        self.rc, self.out, self.err, self.elapsed = rc, out, err, elapsed
        self.objs, self.bad = parse_json_lines(out)
        self.flows = [o for o in self.objs if isinstance(o, dict) and o.get("type") == "flow"]
        sums = [o for o in self.objs if isinstance(o, dict) and o.get("type") == "summary"]
        self.summaries = sums
        self.summary = sums[-1] if sums else None

    def err_lines(self):
        return nonempty_lines(self.err)

    def brief(self):
        return "rc=%s stderr=%r stdout[:300]=%r" % (self.rc, self.err[-400:], self.out[:300])


def parse_json_lines(text):
    objs, bad = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            objs.append(json.loads(line))
        except ValueError:
            bad.append(line)
    return objs, bad


def flowtop(ft, args, timeout=30, env=None):
    t0 = time.monotonic()
    try:
        r = subprocess.run([ft] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout, env=env)
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", e.stdout or b"", (e.stderr or b"") + b"\n(timed out)"
    return Result(rc, out.decode(errors="replace"), err.decode(errors="replace"),
                  time.monotonic() - t0)


class Background:
    """flowtop running in the background (e.g. --json --events); stdout collected by a thread."""

    def __init__(self, ft, args, env=None):
        self.args = [ft] + list(args)
        self.p = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        self.lines = []         # (monotonic time, line)
        self.err = b""
        self.lock = threading.Lock()
        self.t_out = threading.Thread(target=self._read_out, daemon=True)
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out.start()
        self.t_err.start()
        on_cleanup(self.kill)

    def _read_out(self):
        for raw in self.p.stdout:
            with self.lock:
                self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def _read_err(self):
        data = self.p.stderr.read()
        self.err = data or b""

    def objs(self):
        with self.lock:
            text = "\n".join(l for _, l in self.lines)
        return parse_json_lines(text)

    def alive(self):
        return self.p.poll() is None

    def send_signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def wait(self, timeout):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.t_out.join(3)
        self.t_err.join(3)
        return rc

    def stop(self, sig=signal.SIGINT, timeout=10):
        self.send_signal(sig)
        return self.wait(timeout)

    def stderr(self):
        return self.err.decode(errors="replace")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.wait(3)


# --------------------------------------------------------------------------
# conntrack -L, parsed into flowtop's field names

_TUPLE_KEYS = {"src", "dst", "sport", "dport", "type", "code", "id", "packets", "bytes"}


def parse_ct_line(line):
    """One line of `conntrack -L -o extended,id` into a dict with flowtop's field names."""
    tok = line.split()
    if len(tok) < 5:
        return None
    f = {"family": tok[0], "l3num": int(tok[1]), "proto_name": tok[2], "proto": int(tok[3]),
         "timeout": None, "state": None, "flags": set(), "mark": 0, "zone": 0,
         "id": None, "line": line}
    i = 4
    if tok[i].isdigit():
        f["timeout"] = int(tok[i])
        i += 1
    if i < len(tok) and "=" not in tok[i] and not tok[i].startswith("["):
        f["state"] = tok[i]
        i += 1
    dirs = [{}, {}]
    d = 0
    in_tuple = True
    for t in tok[i:]:
        if t.startswith("["):
            f["flags"].add(t.strip("[]").lower())
            continue
        if "=" not in t:
            continue
        k, v = t.split("=", 1)
        if in_tuple and k in _TUPLE_KEYS and (k != "id" or f["proto"] in (1, 58)):
            if k == "src" and "src" in dirs[d]:
                d = 1
            if d == 1 and k in dirs[1]:
                in_tuple = False
            else:
                dirs[d][k] = v
                continue
        in_tuple = False
        if k == "id":
            f["id"] = int(v)
        elif k == "mark":
            f["mark"] = int(v)
        elif k == "zone":
            f["zone"] = int(v)
        else:
            f[k] = v
    o, r = dirs

    def num(dct, k):
        return int(dct[k]) if k in dct else None
    f.update({
        "src": norm_addr(o.get("src")), "dst": norm_addr(o.get("dst")),
        "sport": num(o, "sport"), "dport": num(o, "dport"),
        "reply_src": norm_addr(r.get("src")), "reply_dst": norm_addr(r.get("dst")),
        "reply_sport": num(r, "sport"), "reply_dport": num(r, "dport"),
        "icmp_type": num(o, "type"), "icmp_code": num(o, "code"), "icmp_id": num(o, "id"),
        "orig_packets": num(o, "packets"), "orig_bytes": num(o, "bytes"),
        "reply_packets": num(r, "packets"), "reply_bytes": num(r, "bytes"),
    })
    st = set()
    if "assured" in f["flags"]:
        st.add("assured")
    if "unreplied" not in f["flags"]:
        st.add("seen_reply")
    for fl in ("offload", "hw_offload"):
        if fl in f["flags"]:
            st.add(fl)
    f["status_words"] = st
    return f


def ct_entries(ns):
    """All entries of the namespace's table as a list. Conntrack ids are 32-bit hashes:
    in a table of 20000 entries two share one now and then, so count with this."""
    r = ns.run(["conntrack", "-L", "-o", "extended,id"], timeout=20)
    if r.returncode != 0:
        raise RuntimeError("conntrack -L in %s failed: %s" % (ns.name, one_line(r.stderr)))
    return [f for f in (parse_ct_line(l) for l in r.stdout.splitlines()) if f]


def ct_list(ns):
    """All entries (both families) of the namespace's table: {id: dict}."""
    r = ns.run(["conntrack", "-L", "-o", "extended,id"], timeout=20)
    if r.returncode != 0:
        raise RuntimeError("conntrack -L in %s failed: %s" % (ns.name, one_line(r.stderr)))
    out = {}
    for line in r.stdout.splitlines():
        f = parse_ct_line(line)
        if f and f["id"] is not None:
            out[f["id"]] = f
    return out


def key_of(f):
    """Original-direction tuple key, comparable between flowtop JSON and ct_list()."""
    return (f.get("family"), proto_num(f.get("proto")), norm_addr(f.get("src")),
            norm_addr(f.get("dst")), f.get("sport"), f.get("dport"))


def find_flow(flows, family, proto, src, dst, sport=None, dport=None, icmp_id=None):
    """Flows (flowtop JSON or ct dicts) matching an original tuple."""
    res = []
    for f in flows:
        if f.get("family") != family or proto_num(f.get("proto")) != proto_num(proto):
            continue
        if norm_addr(f.get("src")) != norm_addr(src) or norm_addr(f.get("dst")) != norm_addr(dst):
            continue
        if sport is not None and f.get("sport") != sport:
            continue
        if dport is not None and f.get("dport") != dport:
            continue
        if icmp_id is not None and f.get("icmp_id") != icmp_id:
            continue
        res.append(f)
    return res


def tuple_diffs(ft, ct):
    """List of 'field: flowtop=X conntrack=Y' for the tuple fields of both directions."""
    diffs = []
    fields = ["family", "src", "dst", "reply_src", "reply_dst"]
    if ct.get("sport") is not None:
        fields += ["sport", "dport", "reply_sport", "reply_dport"]
    else:
        fields += ["icmp_type", "icmp_code", "icmp_id"] if ct.get("icmp_type") is not None else []
    for k in fields:
        a = ft.get(k)
        b = ct.get(k)
        if k in ("src", "dst", "reply_src", "reply_dst"):
            a = norm_addr(a)
        if a != b:
            diffs.append("%s: flowtop=%r conntrack=%r" % (k, a, b))
    if proto_num(ft.get("proto")) != ct.get("proto"):
        diffs.append("proto: flowtop=%r conntrack=%r" % (ft.get("proto"), ct.get("proto_name")))
    return diffs


def missing_fields(obj, fields):
    return [k for k in fields if k not in obj]


# --------------------------------------------------------------------------
# helper programs (run inside a namespace)

def tcp_once(dst, port, data=b"ping", fam=None):
    """Connect, send data, read the answer, close; returns the local (address, port)."""
    s = socket.socket(fam or (socket.AF_INET6 if ":" in dst else socket.AF_INET),
                      socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect((dst, port))
    la = s.getsockname()
    s.sendall(data)
    s.recv(64)
    s.close()
    return la


def set_comm(name):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(15, name.encode()[:15], 0, 0, 0)
    except Exception:
        pass


def _family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _sock_for(proto, addr):
    fam = _family_of(addr)
    if proto == "tcp":
        return socket.socket(fam, socket.SOCK_STREAM)
    if proto == "sctp":
        return socket.socket(fam, socket.SOCK_STREAM, IPPROTO_SCTP)
    if proto == "udp":
        return socket.socket(fam, socket.SOCK_DGRAM)
    if proto == "udplite":
        return socket.socket(fam, socket.SOCK_DGRAM, IPPROTO_UDPLITE)
    raise ValueError(proto)


def _recv_exact(s, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("recv timeout")
        s.settimeout(left)
        chunk = s.recv(min(65536, n - len(buf)))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return buf


def _opt(args, name, default=None, conv=str):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return conv(v)
    return default


def _flag(args, name):
    if name in args:
        args.remove(name)
        return True
    return False


def _stdin_closed(timeout):
    """Wait up to timeout for stdin EOF; True when closed."""
    r, _, _ = select.select([sys.stdin.buffer], [], [], max(timeout, 0))
    if r:
        return not os.read(sys.stdin.fileno(), 4096)
    return False


def _hold(seconds, stream_sock=None, rate=0):
    """Stay alive until stdin closes or `seconds` pass; optionally stream data at rate B/s."""
    end = time.monotonic() + seconds
    chunk = 1000
    while time.monotonic() < end:
        if stream_sock is not None and rate > 0:
            step = chunk / rate
            if _stdin_closed(step):
                return
            # a request with reply length 0: the server reads and answers nothing
            try:
                stream_sock.sendall(struct.pack("!I", chunk - 8) + b"s" * (chunk - 8) +
                                    struct.pack("!I", 0))
            except OSError:
                return
        elif _stdin_closed(end - time.monotonic()):
            return


def helper_serve(args):
    """serve PROTO ADDR PORT [--count K] [--comm NAME] [--hold S]
    Request: !I len, payload, !I reply_len. TCP/SCTP keep every connection until the peer closes."""
    comm = _opt(args, "--comm", "fts")
    count = _opt(args, "--count", 1, int)
    hold = _opt(args, "--hold", 120, float)
    proto, addr, port = args[0], args[1], int(args[2])
    set_comm(comm)
    s = _sock_for(proto, addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    end = time.monotonic() + hold
    stdin = sys.stdin.buffer
    if proto in ("udp", "udplite"):
        print("READY %d" % s.getsockname()[1], flush=True)
        while time.monotonic() < end:
            r, _, _ = select.select([s, stdin], [], [], end - time.monotonic())
            if stdin in r and not os.read(stdin.fileno(), 4096):
                return 0
            if s in r:
                data, peer = s.recvfrom(65536)
                if len(data) >= 4:
                    n = struct.unpack("!I", data[:4])[0]
                    s.sendto(b"r" * n, peer)
        return 0
    s.listen(16)
    print("READY %d" % s.getsockname()[1], flush=True)
    conns = {}
    accepted = 0
    while time.monotonic() < end:
        rl = [stdin] + list(conns)
        if accepted < count:
            rl.append(s)
        r, _, _ = select.select(rl, [], [], end - time.monotonic())
        if stdin in r and not os.read(stdin.fileno(), 4096):
            return 0
        if s in r:
            c, _ = s.accept()
            accepted += 1
            conns[c] = b""
            print("ACCEPT %d" % accepted, flush=True)
        for c in [x for x in r if x in conns]:
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if not data:
                c.close()
                del conns[c]
                continue
            buf = conns[c] + data
            while len(buf) >= 4:
                n = struct.unpack("!I", buf[:4])[0]
                if len(buf) < 8 + n:
                    break
                m = struct.unpack("!I", buf[4 + n:8 + n])[0]
                buf = buf[8 + n:]
                if m:
                    c.sendall(b"r" * m)
            conns[c] = buf
    return 0


def helper_client(args):
    """client PROTO ADDR PORT --send N --reply M [--close] [--stream B/s] [--comm NAME]
    Prints `DONE <local addr> <local port>` after the exchange, then holds unless --close."""
    comm = _opt(args, "--comm", "ftc")
    send = _opt(args, "--send", 100, int)
    reply = _opt(args, "--reply", 100, int)
    hold = _opt(args, "--hold", 120, float)
    stream = _opt(args, "--stream", 0, int)
    close = _flag(args, "--close")
    proto, addr, port = args[0], args[1], int(args[2])
    set_comm(comm)
    s = _sock_for(proto, addr)
    deadline = time.monotonic() + 10
    s.settimeout(10)
    s.connect((addr, port))
    payload = b"q" * send
    if proto in ("udp", "udplite"):
        # one datagram: reply length first (the server reads it from the front)
        s.send(struct.pack("!I", reply) + payload[4:] if send >= 4 else struct.pack("!I", reply))
        got = 0
        while got < reply:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            got += len(s.recv(65536))
    else:
        s.sendall(struct.pack("!I", send) + payload + struct.pack("!I", reply))
        _recv_exact(s, reply, deadline)
    la = s.getsockname()
    print("DONE %s %d" % (la[0], la[1]), flush=True)
    if close:
        s.close()
        return 0
    _hold(hold, s if stream else None, stream)
    s.close()
    return 0


def csum(b):
    """The Internet checksum (IP, ICMP, TCP with its pseudo-header)."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return (~s) & 0xffff


def helper_ping(args):
    """ping ADDR --id N [--count C]: ICMP(v6) echo from a raw socket; prints DONE."""
    ident = _opt(args, "--id", 0x4242, int)
    count = _opt(args, "--count", 1, int)
    set_comm(_opt(args, "--comm", "ftping"))
    addr = args[0]
    v6 = ":" in addr
    if v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    got = 0
    for seq in range(1, count + 1):
        body = b"flowtop-test"
        if v6:   # the kernel fills the ICMPv6 checksum of raw sockets
            pkt = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + body
        else:
            pkt = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + body
            pkt = pkt[:2] + struct.pack("!H", csum(pkt)) + pkt[4:]
        s.sendto(pkt, (addr, 0))
        end = time.monotonic() + 2
        while time.monotonic() < end:
            r, _, _ = select.select([s], [], [], end - time.monotonic())
            if not r:
                break
            data = s.recv(2048)
            icmp = data if v6 else data[(data[0] & 0x0f) * 4:]
            if len(icmp) >= 8:
                t, _, _, i, q = struct.unpack("!BBHHH", icmp[:8])
                if t in (0, 129) and i == ident and q == seq:
                    got += 1
                    break
    print("DONE %d" % got, flush=True)
    return 0 if got == count else 1


def _crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def _sctp_pkt(sport, dport, vtag, chunk):
    p = struct.pack("!HHII", sport, dport, vtag, 0) + chunk
    return p[:8] + struct.pack("<I", _crc32c(p)) + p[12:]


def helper_sctp_raw(args):
    """sctp-raw ADDR SPORT DPORT: an SCTP association's packets (INIT, INIT-ACK,
    COOKIE-ECHO, COOKIE-ACK, DATA) written by hand on a raw IPv4 socket, both
    directions, so conntrack sees an ESTABLISHED SCTP flow on loopback even when
    the kernel has no SCTP sockets."""
    addr, sport, dport = args[0], int(args[1]), int(args[2])
    set_comm("ftsctp")
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP)
    tag_c, tag_s = 0x1a2b3c4d, 0x5e6f7081
    pkts = [
        (sport, dport, 0, struct.pack("!BBHIIHHI", 1, 0, 20, tag_c, 65536, 1, 1, 1000)),
        (dport, sport, tag_c, struct.pack("!BBHIIHHI", 2, 0, 20, tag_s, 65536, 1, 1, 2000)),
        (sport, dport, tag_s, struct.pack("!BBH", 10, 0, 8) + b"cook"),
        (dport, sport, tag_c, struct.pack("!BBH", 11, 0, 4)),
        (sport, dport, tag_s, struct.pack("!BBHIHHI", 0, 3, 20, 1000, 0, 0, 0) + b"data"),
    ]
    for sp, dp, vt, ch in pkts:
        s.sendto(_sctp_pkt(sp, dp, vt, ch), (addr, 0))
        r, _, _ = select.select([s], [], [], 2)
        if r:
            s.recv(2048)
    print("DONE %d" % len(pkts), flush=True)
    return 0


def helper_sctp_probe(args):
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP).close()
        return 0
    except OSError as e:
        print(e, file=sys.stderr)
        return 1


HELPERS = {
    "serve": helper_serve,
    "client": helper_client,
    "ping": helper_ping,
    "sctp-raw": helper_sctp_raw,
    "sctp-probe": helper_sctp_probe,
}


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in HELPERS:
        print("usage: ftlib.py %s ..." % "|".join(HELPERS), file=sys.stderr)
        sys.exit(2)
    sys.exit(HELPERS[sys.argv[1]](sys.argv[2:]) or 0)
