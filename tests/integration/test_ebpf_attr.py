#!/usr/bin/env python3
"""test_ebpf_attr - eBPF attribution is 100% right for flows created after start-up.

Namespace A ("client host", watched by flowtop) and namespace B ("server host") are joined
by a veth pair (10.88.0.0/24, fd00:88::/64); A also uses its loopback. flowtop runs first
(`--netns A --json --events`, auto mode); then short-lived processes whose pid, tid, comm,
uid and cgroup the test knows make flows of many kinds (TCP v4/v6, unconnected and connected
UDP, ICMP/ICMPv6 from raw and ping sockets, IPv4 on a dual-stack IPv6 socket, a thread, a
forked child, a process that exits 1 ms after its first packet, a process in its own cgroup
v2 directory), and servers in A receive TCP connections and UDP datagrams from B. Every
`new` and `destroy` event of each of those flows must name the right owner with attr
"ebpf" (accuracy N/N). The same scenario is then run with --mode=conntrack and its
accuracy printed, not asserted. Last: no BPF program of flowtop outlives it, neither after
a normal exit nor after kill -9.

The same file is also the worker that runs inside the namespaces
(`test_ebpf_attr.py worker serve|drive|clients NETNS_PATH JSON`): it enters the network
namespace with setns() only, so the cgroup v2 mount stays visible (`ip netns exec` would
remount /sys and hide it).
"""
import ctypes
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

SELF = os.path.abspath(__file__)
PR_SET_NAME = 15

# addresses, only inside the namespaces this test makes
A4, A6 = "10.88.0.1", "fd00:88::1"
B4, B4B, B6 = "10.88.0.2", "10.88.0.3", "fd00:88::2"
B_TCP = 7001                      # [::]:7001 in B, dual stack
B_UDP = [(B4, 7011), (B4, 7012), (B4B, 7011), (B6, 7011)]
A_TCP4, A_TCP_DUAL, A_LO = 8001, 8002, 8021
A_UDP4, A_UDP_DUAL = 8011, 8012
ICMP_ID = 0x5a00                  # raw-socket echo ids (ping sockets get theirs from the kernel)


# ==========================================================================
# worker side (runs inside a namespace; python stdlib only, no ftlib state)

_libc = ctypes.CDLL(None, use_errno=True)


def w_set_comm(name):
    _libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def w_truth():
    """Who the calling thread is, as flowtop should report it."""
    with open("/proc/thread-self/comm") as f:
        comm = f.read().strip()
    with open("/proc/self/comm") as f:
        pcomm = f.read().strip()
    cg = None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                cg = line[3:].strip()
    root = L.cg2_root()
    cgid = None
    if root and cg is not None:
        try:
            cgid = os.stat(root.rstrip("/") + cg).st_ino
        except OSError:
            pass
    return {"pid": os.getpid(), "tid": threading.get_native_id(), "comm": comm,
            "pcomm": pcomm, "uid": os.getuid(), "cgroup": cg, "cgroup_id": cgid}


def w_emit(kind, obj):
    # one write per line: atomic on a pipe (< PIPE_BUF), also from forked children
    os.write(1, ("%s %s\n" % (kind, json.dumps(obj))).encode())


def w_unmap(a):
    return a[7:] if a.startswith("::ffff:") and "." in a else a


def w_flow(tag, proto, src, dst, sport=None, dport=None, icmp_id=None):
    src, dst = w_unmap(src), w_unmap(dst)
    return {"tag": tag, "proto": proto, "family": "ipv6" if ":" in dst else "ipv4",
            "src": src, "dst": dst, "sport": sport, "dport": dport, "icmp_id": icmp_id}


def w_route_src(dst):
    """The source address the kernel picks for dst (a connected UDP socket sends nothing)."""
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((dst, 9))
        return s.getsockname()[0]
    finally:
        s.close()


def w_fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def w_tcp_once(dst, port, fam=None):
    return L.tcp_once(dst, port, fam=fam)


def w_udp_connected(dst, port):
    s = socket.socket(w_fam(dst), socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((dst, port))
    la = s.getsockname()
    s.send(b"u")
    s.recv(64)
    s.close()
    return la


def w_icmp_raw(dst, ident):
    v6 = ":" in dst
    if v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        pkt = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + b"flowtop"
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        pkt = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"flowtop"
        pkt = pkt[:2] + struct.pack("!H", L.csum(pkt)) + pkt[4:]
    s.sendto(pkt, (dst, 0))
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], end - time.monotonic())
        if not r:
            break
        data = s.recv(2048)
        icmp = data if v6 else data[(data[0] & 0x0f) * 4:]
        if len(icmp) >= 8 and icmp[0] in (0, 129) and struct.unpack("!H", icmp[4:6])[0] == ident:
            break
    s.close()
    return ident


def w_icmp_ping_socket(dst):
    """Echo from a ping socket (SOCK_DGRAM): the kernel sets the echo id to the socket's port."""
    v6 = ":" in dst
    if v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)
        pkt = struct.pack("!BBHHH", 128, 0, 0, 0, 1) + b"flowtop"
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        pkt = struct.pack("!BBHHH", 8, 0, 0, 0, 1) + b"flowtop"
    s.settimeout(1.5)
    s.sendto(pkt, (dst, 0))
    ident = s.getsockname()[1]
    try:
        s.recv(2048)
    except socket.timeout:
        pass
    s.close()
    return ident


# --- outbound scenarios: fn(cfg) -> [flow, ...]; run in a fresh child process

def sc_tcp(dst):
    def fn(cfg, tag):
        la = w_tcp_once(dst, B_TCP)
        return [w_flow(tag, "tcp", la[0], dst, la[1], B_TCP)]
    return fn


def sc_udp_connected(dst, port):
    def fn(cfg, tag):
        la = w_udp_connected(dst, port)
        return [w_flow(tag, "udp", la[0], dst, la[1], port)]
    return fn


def sc_udp_multi(cfg, tag):
    """One unconnected socket, sendto() to three peers: three flows, one owner."""
    peers = [(B4, 7011), (B4, 7012), (B4B, 7011)]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.5)
    for p in peers:
        s.sendto(b"m", p)
    sport = s.getsockname()[1]
    for _ in peers:
        try:
            s.recvfrom(64)
        except socket.timeout:
            break
    s.close()
    return [w_flow("%s-%s:%d" % (tag, d, p), "udp", w_route_src(d), d, sport, p) for d, p in peers]


def sc_icmp_raw(dst, ident):
    def fn(cfg, tag):
        w_icmp_raw(dst, ident)
        return [w_flow(tag, "icmpv6" if ":" in dst else "icmp", w_route_src(dst), dst,
                       icmp_id=ident)]
    return fn


def sc_icmp_ping(dst):
    def fn(cfg, tag):
        ident = w_icmp_ping_socket(dst)
        return [w_flow(tag, "icmpv6" if ":" in dst else "icmp", w_route_src(dst), dst,
                       icmp_id=ident)]
    return fn


def sc_dual_stack(cfg, tag):
    """IPv4 through an AF_INET6 socket: ::ffff:127.0.0.1 to a listener in A."""
    la = w_tcp_once("::ffff:127.0.0.1", A_LO, socket.AF_INET6)
    return [w_flow(tag, "tcp", la[0], "127.0.0.1", la[1], A_LO)]


def sc_thread(cfg, tag):
    """A second thread connects: pid is the process, tid the thread."""
    res = {}

    def body():
        try:
            w_set_comm("fe-thr-conn")
            res["truth"] = w_truth()
            res["la"] = w_tcp_once(B4, B_TCP)
        except Exception as e:  # reported by the caller
            res["err"] = repr(e)
    th = threading.Thread(target=body)
    th.start()
    th.join(5)
    if "la" not in res:
        raise RuntimeError("thread: %s" % res.get("err", "no result"))
    f = w_flow(tag, "tcp", res["la"][0], B4, res["la"][1], B_TCP)
    f["truth"] = res["truth"]
    return [f]


def sc_fork(cfg, tag):
    """The parent connects, forks; the child (same comm, its own pid) connects too."""
    la = w_tcp_once(B4, B_TCP)
    flows = [w_flow(tag + "-parent", "tcp", la[0], B4, la[1], B_TCP)]
    pid = os.fork()
    if pid == 0:
        try:
            t = w_truth()
            la2 = w_tcp_once(B6, B_TCP)
            f = w_flow(tag + "-child", "tcp", la2[0], B6, la2[1], B_TCP)
            f["truth"] = t
            w_emit("FLOW", f)
            os._exit(0)
        except BaseException as e:
            w_emit("ERR", {"tag": tag + "-child", "error": repr(e)})
            os._exit(1)
    _, st = os.waitpid(pid, 0)
    return flows


def sc_fork_inherited(cfg, tag):
    """The parent creates a TCP socket and forks; the child renames itself and connects
    with the inherited socket: the child made the flow."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        try:
            w_set_comm("fe-fork-sockch")
            t = w_truth()
            s.settimeout(3)
            s.connect((B4, B_TCP))
            la = s.getsockname()
            s.sendall(b"ping")
            s.recv(64)
            s.close()
            f = w_flow(tag, "tcp", la[0], B4, la[1], B_TCP)
            f["truth"] = t
            w_emit("FLOW", f)
            os._exit(0)
        except BaseException as e:
            w_emit("ERR", {"tag": tag, "error": repr(e)})
            os._exit(1)
    s.close()
    os.waitpid(pid, 0)
    return []


def sc_exit_tcp(cfg, tag):
    """Non-blocking connect, exit 1 ms after the SYN: the flow outlives its process."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((B4, B_TCP))
    except BlockingIOError:
        pass
    la = s.getsockname()
    time.sleep(0.001)
    return [w_flow(tag, "tcp", la[0], B4, la[1], B_TCP)]   # exit closes the socket


def sc_exit_udp(cfg, tag):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", (B4, 7012))
    sport = s.getsockname()[1]
    time.sleep(0.001)
    return [w_flow(tag, "udp", w_route_src(B4), B4, sport, 7012)]


def outbound_plan(cfg):
    """(tag, comm, uid or None, in_cgroup, fn): one short-lived process each."""
    plan = [
        ("tcp4", "fe-tcp4", None, False, sc_tcp(B4)),
        ("tcp6", "fe-tcp6", None, False, sc_tcp(B6)),
        ("udp-multi", "fe-udp-multi", 1001, False, sc_udp_multi),
        ("udp-conn4", "fe-udp-conn4", None, False, sc_udp_connected(B4, 7011)),
        ("udp-conn6", "fe-udp-conn6", 1001, False, sc_udp_connected(B6, 7011)),
        ("icmp-raw4", "fe-icmp-raw4", None, False, sc_icmp_raw(B4, ICMP_ID + 1)),
        ("icmp-ping4", "fe-icmp-ping4", 1002, False, sc_icmp_ping(B4)),
        ("icmp6-raw", "fe-icmp6-raw", None, False, sc_icmp_raw(B6, ICMP_ID + 2)),
        ("icmp6-ping", "fe-icmp6-ping", 1002, False, sc_icmp_ping(B6)),
        ("dual-stack-lo", "fe-dual-lo", None, False, sc_dual_stack),
        ("thread", "fe-thr-main", None, False, sc_thread),
        ("fork", "fe-fork-par", None, False, sc_fork),
        ("fork-inherited-socket", "fe-fork-sock", None, False, sc_fork_inherited),
        ("exit1ms-tcp", "fe-exit-tcp", None, False, sc_exit_tcp),
        ("exit1ms-udp", "fe-exit-udp", 1005, False, sc_exit_udp),
        ("cgroup", "fe-cgroup", None, True, sc_tcp(B4)),
    ]
    kinds = [("tcp4", sc_tcp(B4)), ("udp6", sc_udp_connected(B6, 7011)),
             ("tcp6", sc_tcp(B6)), ("udp4", sc_udp_connected(B4, 7012))]
    for i in range(8):
        k, fn = kinds[i % len(kinds)]
        plan.append(("burst%d-%s" % (i, k), "fe-burst-%d" % i, (None, 1010 + i)[i % 2], False, fn))
    return plan


def w_run_child(cfg, tag, comm, uid, in_cg, fn):
    pid = os.fork()
    if pid == 0:
        try:
            if in_cg:
                with open(os.path.join(cfg["cgroup_dir"], "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            w_set_comm(comm)
            t = w_truth()
            flows = fn(cfg, tag)
            for f in flows:
                f.setdefault("truth", t)
                w_emit("FLOW", f)
            os._exit(0)
        except BaseException as e:
            w_emit("ERR", {"tag": tag, "error": repr(e)})
            os._exit(1)
    t0 = time.monotonic()
    end = t0 + 8
    while time.monotonic() < end:
        p, _ = os.waitpid(pid, os.WNOHANG)
        if p:
            w_emit("LIFE", {"tag": tag, "ms": (time.monotonic() - t0) * 1000})
            return
        time.sleep(0.0005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    w_emit("ERR", {"tag": tag, "error": "process did not finish within 8 s"})


def worker_drive(cfg):
    for tag, comm, uid, in_cg, fn in outbound_plan(cfg):
        if in_cg and not cfg.get("cgroup_dir"):
            w_emit("ERR", {"tag": tag, "error": "no cgroup directory", "skip": True})
            continue
        w_run_child(cfg, tag, comm, uid, in_cg, fn)
    os.write(1, b"DONE\n")
    return 0


def worker_clients(cfg):
    """Clients in B for A's servers: prints the flows as A's conntrack sees them."""
    for tag, proto, dst, port in cfg["targets"]:
        try:
            if proto == "tcp":
                la = w_tcp_once(dst, port)
            else:
                la = w_udp_connected(dst, port)
            w_emit("FLOW", w_flow(tag, proto, la[0], dst, la[1], port))
        except Exception as e:
            w_emit("ERR", {"tag": tag, "error": repr(e)})
    os.write(1, b"DONE\n")
    return 0


def worker_serve(spec):
    """TCP echo listeners and UDP echo sockets; READY <truth> once all are bound."""
    if spec.get("uid") is not None:
        os.setgroups([])
        os.setgid(spec["uid"])
        os.setuid(spec["uid"])
    w_set_comm(spec["comm"])
    lst, udp = [], []
    for addr, port in spec.get("tcp", []):
        s = socket.socket(w_fam(addr), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if addr == "::":
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((addr, port))
        s.listen(64)
        lst.append(s)
    autoport = None
    if spec.get("autolisten"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.listen(16)                  # no bind(): the port is picked by listen()
        autoport = s.getsockname()[1]
        lst.append(s)
    for addr, port in spec.get("udp", []):
        s = socket.socket(w_fam(addr), socket.SOCK_DGRAM)
        if addr == "::":
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((addr, port))
        udp.append(s)
    w_emit("READY", {"truth": w_truth(), "autoport": autoport})
    conns = []
    stdin = sys.stdin.buffer
    end = time.monotonic() + spec.get("hold", 90)
    while time.monotonic() < end:
        r, _, _ = select.select([stdin] + lst + udp + conns, [], [], 1)
        for s in r:
            if s is stdin:
                if not os.read(stdin.fileno(), 4096):
                    return 0
            elif s in lst:
                c, _ = s.accept()
                conns.append(c)
            elif s in udp:
                try:
                    data, peer = s.recvfrom(2048)
                    s.sendto(data, peer)
                except OSError:
                    pass
            else:
                try:
                    data = s.recv(2048)
                    if data:
                        s.sendall(data)
                except OSError:
                    data = b""
                if not data:
                    s.close()
                    conns.remove(s)
    return 0


def worker_main(argv):
    kind, nspath, arg = argv[0], argv[1], json.loads(argv[2])
    L.setns_net(nspath)
    return {"serve": worker_serve, "drive": worker_drive, "clients": worker_clients}[kind](arg)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "worker":
    sys.exit(worker_main(sys.argv[2:]) or 0)


# ==========================================================================
# test side

rep, FT = L.start("ebpf_attr")


info = L.info


def worker(ns, kind, arg):
    return L.worker(ns, SELF, kind, arg)


def read_records(p, timeout):
    """FLOW/ERR lines of a worker until DONE: (flows, errors)."""
    flows, errs = [], []
    lines, why = L.worker_output(p, timeout)
    for kind, rest in lines:
        if kind == "FLOW":
            flows.append(json.loads(rest))
        elif kind == "ERR":
            errs.append(json.loads(rest))
        elif kind == "LIFE":
            p.lives = getattr(p, "lives", []) + [json.loads(rest)]
    if why:
        errs.append({"tag": "worker", "error": why})
    return flows, errs


bpf_progs = L.bpf_progs
ft_prog_ids = L.ft_prog_ids


def setup_hosts(tag):
    A = L.Netns(tag + "a")
    B = L.Netns(tag + "b")
    for ns in (A, B):
        if ns.tracking == "iptables":
            for ipt in ("iptables", "ip6tables"):
                ns.run([ipt, "-w", "-I", "INPUT", "-m", "conntrack", "--ctstate", "NEW",
                        "-j", "ACCEPT"], check=True)
    L.veth(A, B, ["%s/24" % A4, "%s/64" % A6], ["%s/24" % B4, "%s/24" % B4B, "%s/64" % B6])
    for k in ("udp_timeout", "udp_timeout_stream", "icmp_timeout", "icmpv6_timeout",
              "tcp_timeout_time_wait", "tcp_timeout_close", "tcp_timeout_fin_wait",
              "tcp_timeout_last_ack", "tcp_timeout_close_wait", "tcp_timeout_syn_sent",
              "tcp_timeout_syn_recv"):
        A.set_sysctl("net.netfilter.nf_conntrack_" + k, 1)
    A.set_sysctl("net.ipv4.ping_group_range", "0 2147483647")
    return A, B


def wait_ready(bg, A, base):
    end = time.monotonic() + 10
    for i in range(25):
        if time.monotonic() > end:
            return False
        ident = base + i
        L.ping(A, "127.0.0.1", ident)
        if L.wait_until(lambda: any(isinstance(o, dict) and o.get("type") == "new" and
                                    o.get("icmp_id") == ident for o in bg.objs()[0]), 0.3):
            return True
        if not bg.alive():
            return False
    return False


class Run:
    pass


def scenario(mode, tag, extra=(), env=None):
    """Make all flows with flowtop watching A; returns a Run (or raises)."""
    run = Run()
    run.mode = mode
    run.errors = []
    A, B = setup_hosts(tag)
    run.A, run.B = A, B
    bserv = worker(B, "serve", {"comm": "fe-b-serv", "tcp": [["::", B_TCP]],
                                "udp": [list(x) for x in B_UDP]})
    bserv.expect("READY", 10)

    args = ["--netns", A.name, "--json", "--events", "--duration", "40"]
    if mode == "conntrack":
        args.append("--mode=conntrack")
    args += list(extra)
    bg = L.Background(FT, args, env=env)
    run.bg = bg
    run.ready = wait_ready(bg, A, 0x3100 if mode == "ebpf" else 0x3200)
    if not run.ready:
        return run
    run.prog_ids = ft_prog_ids(bg.pid) if mode == "ebpf" else set()

    # servers in A, started after flowtop: their listen()/bind() is what eBPF records
    stcp = worker(A, "serve", {"comm": "fe-srv-tcp", "autolisten": True,
                               "tcp": [[A4, A_TCP4], ["::", A_TCP_DUAL], ["127.0.0.1", A_LO]]})
    sudp = worker(A, "serve", {"comm": "fe-srv-udp", "uid": 1003,
                               "udp": [[A4, A_UDP4], ["::", A_UDP_DUAL]]})
    t_tcp = json.loads(" ".join(stcp.expect("READY", 10)))
    t_udp = json.loads(" ".join(sudp.expect("READY", 10)))

    cgdir = None
    root = L.cg2_root()
    if root:
        cgdir = os.path.join(root, "ft-ebpf-attr-%d-%s" % (os.getpid(), tag))
        try:
            # only the test's own client is ever moved in here
            cgdir, run.rm_cg = L.make_cgroup(os.path.basename(cgdir), root)
        except OSError as e:
            run.errors.append({"tag": "cgroup", "error": "mkdir %s: %s" % (cgdir, e),
                               "skip": True})
            cgdir = None
    run.cgdir = cgdir
    run.cgroot = root

    drv = worker(A, "drive", {"cgroup_dir": cgdir})
    flows, errs = read_records(drv, 40)
    drv.wait(5)
    run.lives = getattr(drv, "lives", [])
    for f in flows:
        f["dir"] = "out"
    run.errors += errs

    # two connections/datagrams to the same specific-address listener/socket: the
    # second must be attributed as well as the first
    targets = [("in-tcp4", "tcp", A4, A_TCP4), ("in-tcp4-again", "tcp", A4, A_TCP4),
               ("in-tcp-dual-v4", "tcp", A4, A_TCP_DUAL),
               ("in-tcp-dual-v6", "tcp", A6, A_TCP_DUAL),
               ("in-tcp-autolisten", "tcp", A4, t_tcp["autoport"]),
               ("in-udp4", "udp", A4, A_UDP4), ("in-udp4-again", "udp", A4, A_UDP4),
               ("in-udp-dual-v4", "udp", A4, A_UDP_DUAL),
               ("in-udp-dual-v6", "udp", A6, A_UDP_DUAL)]
    cli = worker(B, "clients", {"targets": targets})
    inb, errs = read_records(cli, 30)
    cli.wait(5)
    run.errors += errs
    for f in inb:
        f["dir"] = "in"
        f["truth"] = (t_tcp if f["proto"] == "tcp" else t_udp)["truth"]
    run.flows = flows + inb
    time.sleep(0.3)        # servers see the clients' FINs and close their ends
    for p in (stcp, sudp, bserv):
        p.release()
        p.wait(3)

    # flows end by their 1 s timeouts; listing the table evicts expired entries
    def all_destroyed():
        objs = bg.objs()[0]
        return all(any(o.get("type") == "destroy" for o in match(objs, f)) for f in run.flows)
    t0 = time.monotonic()
    flushed = False
    while time.monotonic() - t0 < 12 and not all_destroyed() and bg.alive():
        time.sleep(0.5)
        if not flushed and time.monotonic() - t0 > 7:
            A.run(["conntrack", "-F"])
            flushed = True
        else:
            A.run(["conntrack", "-L"])
    run.flushed = flushed
    run.rc = bg.stop(signal.SIGINT, 10)
    run.objs, run.bad = bg.objs()
    sums = [o for o in run.objs if isinstance(o, dict) and o.get("type") == "summary"]
    run.summary = sums[-1] if sums else {}
    if mode == "ebpf" and run.prog_ids:
        # no program of this flowtop may outlive it
        left = run.prog_ids
        L.wait_until(lambda: not (set(bpf_progs() or {}) & left), 5, 0.1)
        run.prog_left = set(bpf_progs() or {}) & left
    return run


def match(objs, f):
    evs = [o for o in objs if isinstance(o, dict) and o.get("type") in ("new", "update", "destroy")]
    return L.find_flow(evs, f["family"], f["proto"], f["src"], f["dst"], f["sport"], f["dport"],
                       f["icmp_id"])


def want_of(f):
    t = f["truth"]
    return {"pid": t["pid"], "tid": t["tid"], "uid": t["uid"], "comm": t["comm"],
            "cgroup_id": t["cgroup_id"], "cgroup": t["cgroup"]}


def comm_ok(got, t):
    if got == t["comm"]:
        return True
    # a thread's flow: the thread's name (what the kernel's current->comm is) or the process's
    return t["tid"] != t["pid"] and got == t["pcomm"]


def judge(objs, f, with_attr=True):
    """(problems, wrong-owner list, matching events) for one flow the test made."""
    m = match(objs, f)
    kinds = [o.get("type") for o in m]
    probs = []
    if "new" not in kinds:
        probs.append("no 'new' event")
    if "destroy" not in kinds:
        probs.append("no 'destroy' event")
    wrong = []
    want = want_of(f)
    for o in m:
        d = []
        for k in ("pid", "tid", "uid", "cgroup_id", "cgroup"):
            if o.get(k) != want[k]:
                d.append("%s=%r (want %r)" % (k, o.get(k), want[k]))
        if not comm_ok(o.get("comm"), f["truth"]):
            d.append("comm=%r (want %r)" % (o.get("comm"), want["comm"]))
        if with_attr and o.get("attr") != "ebpf":
            d.append("attr=%r (want 'ebpf')" % o.get("attr"))
        if d:
            wrong.append("%s id=%s: %s" % (o.get("type"), o.get("id"), ", ".join(d)))
    return probs, wrong, m


def flow_desc(f):
    if f["icmp_id"] is not None:
        return "%s %s %s->%s id=%d" % (f["family"], f["proto"], f["src"], f["dst"], f["icmp_id"])
    return "%s %s %s:%s->%s:%s" % (f["family"], f["proto"], f["src"], f["sport"], f["dst"],
                                   f["dport"])


def check_rung(run, rung):
    """A lower rung forced with --rung-limit: every flow right but what that rung cannot see."""
    # tracepoints see listen() before the kernel picks the port of an unbound socket
    blind = {"in-tcp-autolisten"} if rung in ("tp_btf", "raw_tp") else set()
    s = run.summary or {}
    rep.check("rung-%s-chosen" % rung, (s.get("probes") or {}).get("listen") == rung,
              "probes=%r" % s.get("probes"))
    ok = n = 0
    bad = []
    for f in run.flows:
        if f["tag"] in blind:
            continue
        probs, wrong, _ = judge(run.objs, f)
        n += 1
        if probs or wrong:
            bad.append("%s: %s" % (f["tag"], "; ".join(probs + wrong[:1])))
        else:
            ok += 1
    info("rung %s: accuracy %d/%d (not counted, a limit of the rung: %s)" % (
        rung, ok, n, ", ".join(sorted(blind)) or "none"))
    rep.check("rung-%s-accuracy-100" % rung, n > 0 and ok == n, "; ".join(bad[:3]))


def check_ebpf(run):
    for e in run.errors:
        if e.get("skip"):
            rep.skip("make-" + e["tag"], e["error"])
        else:
            rep.fail("make-" + e["tag"], "the test could not make this flow: %s" % e["error"])
    rep.check("flowtop-exit-0", run.rc == 0, "exit status %r, stderr %r" % (
        run.rc, run.bg.stderr()[-300:]))
    rep.check("valid-json", not run.bad, "lines that are not JSON: %r" % run.bad[:3])
    s = run.summary
    rep.check("summary-mode-ebpf", s.get("mode") == "ebpf", "mode=%r mode_reason=%r" % (
        s.get("mode"), s.get("mode_reason")))
    pr = s.get("probes") or {}
    rep.check("summary-probes", all(pr.get(k) not in (None, "none") for k in
                                    ("flow", "listen", "bind", "sock")), "probes=%r" % pr)
    rep.check("summary-attr-lost-0", s.get("attr_lost") == 0, "attr_lost=%r" % s.get("attr_lost"))
    rep.check("summary-events-lost-0", s.get("events_lost") == 0,
              "events_lost=%r" % s.get("events_lost"))
    info("ebpf run summary: %s" % json.dumps({k: s.get(k) for k in (
        "mode", "probes", "attr_lost", "attr_records", "attr_joined", "attr_dropped",
        "attr_unmatched", "events_lost", "created", "destroyed")}))
    if run.flushed:
        info("some flows had not ended 7 s after the traffic: the table was flushed (conntrack -F)")

    names = [f["tag"] for f in run.flows]
    need = ["tcp4", "tcp6", "udp-conn4", "udp-conn6", "icmp-raw4", "icmp-ping4", "icmp6-raw",
            "icmp6-ping", "dual-stack-lo", "thread", "fork-parent", "fork-child",
            "fork-inherited-socket", "exit1ms-tcp", "exit1ms-udp", "in-tcp4", "in-tcp4-again",
            "in-tcp-dual-v4", "in-tcp-dual-v6", "in-tcp-autolisten", "in-udp4", "in-udp4-again",
            "in-udp-dual-v4", "in-udp-dual-v6"]
    if run.cgdir:
        need.append("cgroup")
    miss = [n for n in need if n not in names]
    rep.check("all-scenarios-made", not miss and sum(n.startswith("udp-multi") for n in names) == 3,
              "flows the test failed to make: %r" % miss)
    nproc = len({f["truth"]["pid"] for f in run.flows if f["dir"] == "out"})
    info("made %d flows (%d outbound from %d short-lived processes, %d inbound)" % (
        len(run.flows), sum(f["dir"] == "out" for f in run.flows), nproc,
        sum(f["dir"] == "in" for f in run.flows)))
    ms = sorted(x["ms"] for x in run.lives)
    if ms:
        info("client processes lived %.1f ms (median) / %.1f ms (max) from fork to exit, "
             "flow included" % (ms[len(ms) // 2], ms[-1]))

    ok_flows = ok_events = n_events = 0
    for f in run.flows:
        probs, wrong, m = judge(run.objs, f)
        n_events += sum(o.get("type") in ("new", "destroy") for o in m)
        ok_events += sum(o.get("type") in ("new", "destroy") for o in m) - len(
            [w for w in wrong if not w.startswith("update")])
        ids = sorted({o.get("id") for o in m})
        if len(ids) > 1:
            info("%s: %d conntrack entries for one tuple (ids %s)" % (f["tag"], len(ids), ids))
        good = not probs and not wrong
        ok_flows += good
        t = f["truth"]
        rep.check("flow-" + f["tag"], good, "%s by pid %d tid %d comm %r uid %d cgroup %r: %s" % (
            flow_desc(f), t["pid"], t["tid"], t["comm"], t["uid"], t["cgroup"],
            "; ".join(probs + wrong[:3])))
    n = len(run.flows)
    print("INFO ebpf accuracy %d/%d flows (%d/%d new+destroy events right)" % (
        ok_flows, n, ok_events, n_events), flush=True)
    rep.check("accuracy-100", n > 0 and ok_flows == n, "accuracy %d/%d" % (ok_flows, n))

    # thread and fork: tid != pid, and the child's own pid
    th = [f for f in run.flows if f["tag"] == "thread"]
    if th:
        t = th[0]["truth"]
        rep.check("thread-tid-differs", t["tid"] != t["pid"], "the test's thread had tid == pid")
        evs = match(run.objs, th[0])
        comms = {o.get("comm") for o in evs}
        info("thread flow: comm reported %s (thread %r, process %r)" % (
            sorted(c for c in comms if c), t["comm"], t["pcomm"]))
    fc = [f for f in run.flows if f["tag"] == "fork-child"]
    fp = [f for f in run.flows if f["tag"] == "fork-parent"]
    if fc and fp:
        rep.check("fork-child-own-pid", fc[0]["truth"]["pid"] != fp[0]["truth"]["pid"] and all(
            o.get("pid") == fc[0]["truth"]["pid"] for o in match(run.objs, fc[0])),
            "child pid %d parent pid %d, events say %r" % (
                fc[0]["truth"]["pid"], fp[0]["truth"]["pid"],
                sorted({o.get("pid") for o in match(run.objs, fc[0])}, key=str)))
    cg = [f for f in run.flows if f["tag"] == "cgroup"]
    if cg and run.cgdir:
        ino = os.stat(run.cgdir).st_ino
        rel = "/" + os.path.relpath(run.cgdir, run.cgroot)
        evs = match(run.objs, cg[0])
        rep.check("cgroup-id-path", evs and all(o.get("cgroup_id") == ino and o.get("cgroup") == rel
                                                for o in evs),
                  "want cgroup_id %d cgroup %r, events: %r" % (ino, rel, [
                      (o.get("type"), o.get("cgroup_id"), o.get("cgroup")) for o in evs]))
    if hasattr(run, "prog_left"):
        rep.check("no-bpf-prog-after-exit", not run.prog_left,
                  "BPF programs %r of flowtop (held while it ran: %r) still loaded 5 s after "
                  "it exited" % (sorted(run.prog_left), sorted(run.prog_ids)))


def report_fallback(run):
    if not run.ready:
        info("fallback run: flowtop (--mode=conntrack) reported no canary flow; stderr %r" %
             run.bg.stderr()[-200:])
        return
    s = run.summary
    good, bad = 0, []
    for f in run.flows:
        m = match(run.objs, f)
        d = [o for o in m if o.get("type") == "destroy"] or m
        o = d[-1] if d else {}
        if o.get("pid") == f["truth"]["pid"] and comm_ok(o.get("comm"), f["truth"]):
            good += 1
        else:
            bad.append("%s(%s/%s)" % (f["tag"], o.get("pid"), o.get("attr")))
    print("INFO fallback attributed %d/%d (short-lived processes are its blind spot)" % (
        good, len(run.flows)), flush=True)
    info("fallback (mode=%r attr=%r) missed: %s" % (s.get("mode"), s.get("attr"), " ".join(bad)))


def kill9_check(A):
    """kill -9 a running flowtop: the kernel must free all its BPF programs."""
    before = bpf_progs()
    if before is None:
        rep.skip("no-bpf-prog-after-kill9", "bpftool not available")
        return
    bg = L.Background(FT, ["--netns", A.name, "--json", "--events", "--duration", "30"])
    ids = L.wait_until(lambda: (ft_prog_ids(bg.pid) if len(ft_prog_ids(bg.pid)) >= 6 else None),
                       8, 0.1)
    if not rep.check("kill9-loaded", ids, "flowtop held no ft_* BPF programs 8 s after start "
                     "(alive=%s stderr=%r)" % (bg.alive(), bg.stderr()[-200:])):
        bg.kill()
        return
    names = sorted({(bpf_progs() or {}).get(i) for i in ids})
    os.kill(bg.pid, signal.SIGKILL)
    bg.wait(5)
    L.wait_until(lambda: not (set(bpf_progs() or {}) & ids), 5, 0.1)
    after = bpf_progs() or {}
    left = set(after) & ids
    rep.check("no-bpf-prog-after-kill9", not left,
              "programs %r of the killed flowtop still loaded 5 s later" % sorted(
                  (i, after[i]) for i in left))
    nb = sum(v.startswith("ft_") for v in before.values())
    na = sum(v.startswith("ft_") for v in after.values())
    info("kill -9: flowtop held %s; ft_* programs loaded before %d, after %d" % (names, nb, na))


DEAD_PORT = 7555
LISTENER = """
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"fe-dead-lsn", 0, 0, 0)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d))
s.listen(8)
print("READY", flush=True)
c, _ = s.accept()
c.close()
time.sleep(60)
""" % DEAD_PORT
CONNECT = """
import socket, sys, time
s = socket.socket()
s.bind(("", 0))
port = s.getsockname()[1]
s.settimeout(3)
try:
    s.connect((sys.argv[1], %d))
    time.sleep(float(sys.argv[2]))     # open across a dump of flowtop's
    print("connected", port)
except OSError as e:
    print("refused" if isinstance(e, ConnectionRefusedError) else "error %%s" %% e, port)
s.close()
""" % DEAD_PORT


def dead_listener_case():
    """A listener whose process is killed stops owning its port: the next inbound SYN to
    it (refused) is nobody's. The process's exit closes the socket after its namespaces
    are gone, so the port's netns must come from the socket, not the task."""
    A, B = setup_hosts("k")
    bg = L.Background(FT, ["--netns", A.name, "--json", "--events=destroy", "-n", "--no-geoip",
                           "-t", "1"])
    time.sleep(2.5)
    lsn = subprocess.Popen(A.cmd(["python3", "-c", LISTENER]), stdout=subprocess.PIPE, text=True)
    first = lsn.stdout.readline().strip()
    before = B.run(["python3", "-c", CONNECT, A4, "1.5"]).stdout.split()
    time.sleep(0.3)
    lsn.kill()          # the listener is still open: the exit path closes it
    lsn.wait()
    time.sleep(0.5)
    after = B.run(["python3", "-c", CONNECT, A4, "0"]).stdout.split()
    L.wait_until(lambda: int(A.run(["conntrack", "-C"]).stdout.strip() or 0) == 0, 15, 0.3)
    time.sleep(1.5)
    rc = bg.stop(signal.SIGINT, 10)
    objs = [o for o in bg.objs()[0] if isinstance(o, dict)]
    s = [o for o in objs if o.get("type") == "summary"]
    if not s or s[-1].get("mode") != "ebpf":
        rep.skip("dead-listener", "flowtop did not run in the eBPF mode: %r" % (
            s[-1].get("mode") if s else bg.stderr()[-200:]))
    else:
        def owner(words):
            port = int(words[-1]) if words and words[-1].isdigit() else -1
            f = [o for o in objs if o.get("type") == "destroy" and o.get("dport") == DEAD_PORT
                 and o.get("sport") == port]
            return (f[0].get("comm"), f[0].get("pid")) if f else None
        o1, o2 = owner(before), owner(after)
        info("dead listener: %s then %s; owners %r then %r (listener pid %d)" % (
            before, after, o1, o2, lsn.pid))
        rep.check("dead-listener-made", rc == 0 and first == "READY" and before[:1] ==
                  ["connected"] and after[:1] == ["refused"] and o1 and o2,
                  "rc %r, listener %r, connects %r/%r, owners %r/%r" % (rc, first, before, after,
                                                                      o1, o2))
        rep.check("dead-listener-owned-then-not",
                  o1 == ("fe-dead-lsn", lsn.pid) and o2 and o2[1] != lsn.pid,
                  "owners of the accepted and the refused connection: %r, %r (listener pid "
                  "%d)" % (o1, o2, lsn.pid))
    A.destroy()
    B.destroy()


def main():
    t_start = time.monotonic()
    # is eBPF mode available at all? (auto mode, like the run that follows)
    A0 = L.Netns("eprobe")
    r = L.flowtop(FT, ["--netns", A0.name, "--json", "--once"], timeout=20)
    mode = (r.summary or {}).get("mode")
    if mode != "ebpf":
        rep.skip_all("flowtop runs in mode %r here, not ebpf: %s" % (
            mode, (r.summary or {}).get("mode_reason") or r.brief()))
    A0.destroy()
    baseline = bpf_progs()

    run = scenario("ebpf", "e")
    if not rep.check("listening", run.ready, "no 'new' event for canary pings within ~8 s; "
                     "alive=%s stderr=%r" % (run.bg.alive(), run.bg.stderr()[-300:])):
        return
    check_ebpf(run)
    kill9_check(run.A)
    if baseline is not None:
        now = bpf_progs() or {}
        nb = sum(v.startswith("ft_") for v in baseline.values())
        na = sum(v.startswith("ft_") for v in now.values())
        info("ft_* BPF programs loaded on this machine: %d before the test's flowtop runs, %d "
             "after (other flowtop instances count too)" % (nb, na))
    if hasattr(run, "rm_cg"):
        run.rm_cg()
    run.A.destroy()
    run.B.destroy()

    # the listen hook's lower rungs, forced: each must be chosen and attribute right. The
    # raw_tp run also reads the task's fields by bpf_probe_read_kernel(), as on kernels that
    # refuse bpf_get_current_task_btf() in these programs.
    probe_env = dict(os.environ, FLOWTOP_TASK_READS="probe")
    pr = subprocess.run([FT, "--probe"], env=probe_env, capture_output=True, text=True)
    rep.check("task-reads-probe", "read by bpf_probe_read_kernel" in pr.stdout,
              "flowtop --probe with FLOWTOP_TASK_READS=probe said %r" % pr.stdout[-300:])
    # the runs above used plain loads: Debian's 6.1 and 6.12 and this machine's 6.18 all let
    # these programs call bpf_get_current_task_btf(), so a refusal here is a broken branch
    rel = tuple(int(x) for x in os.uname().release.split(".")[:2] if x.isdigit())
    pr = subprocess.run([FT, "--probe"], capture_output=True, text=True)
    if rel >= (6, 1):
        rep.check("task-reads-plain", "read by plain loads" in pr.stdout,
                  "flowtop --probe on %s said %r" % (os.uname().release, pr.stdout[-300:]))
    else:
        rep.skip("task-reads-plain", "kernel %s: older than any kernel this was measured on"
                 % os.uname().release)
    for i, rung in enumerate(("tp_btf", "raw_tp")):
        rr = scenario("ebpf", "r%d" % i, ["--rung-limit", rung],
                      env=probe_env if rung == "raw_tp" else None)
        if rep.check("rung-%s-listening" % rung, rr.ready, "flowtop did not start"):
            check_rung(rr, rung)
        if hasattr(rr, "rm_cg"):
            rr.rm_cg()
        rr.A.destroy()
        rr.B.destroy()

    dead_listener_case()

    fb = scenario("conntrack", "c")
    report_fallback(fb)
    if hasattr(fb, "rm_cg"):
        fb.rm_cg()
    info("test took %.1f s" % (time.monotonic() - t_start))


try:
    main()
except Exception as e:
    import traceback
    rep.fail("error", "%s: %s" % (type(e).__name__, L.one_line(traceback.format_exc()[-800:])))
rep.finish()
