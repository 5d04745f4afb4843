#!/usr/bin/env python3
"""test_privilege - after set-up flowtop keeps only the capabilities it needs; --user NAME.

flowtop watches a fresh namespace, in conntrack mode and in auto (eBPF) mode, with and
without `--user nobody`. While it runs, /proc/PID/status must show the user, exactly the
capabilities documented for that mode (effective = permitted = bounding) and no_new_privs;
a TCP flow made then is still reported and attributed; on exit the namespace's sysctls are
back as they were (also when the user may not remove its state file: the next start does).
An unknown user is one error line and exit status 2.
"""
import os
import pwd
import signal
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("privilege")

CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_BPF = 2, 12, 19, 21, 39
BASE = {CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH}
ACCT = "net.netfilter.nf_conntrack_acct"


def status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def capset(hexval):
    v = int(hexval, 16)
    return {i for i in range(64) if v >> i & 1}


def run_case(ns, name, args, want_caps, want_uid):
    ns.set_sysctl(ACCT, 0)
    bg = L.Background(FT, ["--netns", ns.name, "--json", "--events", "--duration", "30"] + args)
    # set-up is over once a flow shows up
    ok = False
    for i in range(20):
        L.ping(ns, "127.0.0.1", 0x4700 + i)
        if L.wait_until(lambda: any(isinstance(o, dict) and o.get("icmp_id") == 0x4700 + i
                                    for o in bg.objs()[0]), 0.3):
            ok = True
            break
        if not bg.alive():
            break
    rep.check(name + "-runs", ok, "no flow seen; stderr %r" % bg.stderr()[-300:])
    if not ok:
        bg.kill()
        return
    st = status(bg.pid)
    uid = int(st.get("Uid", "-1").split()[0])
    eff, prm, bnd = (capset(st.get(k, "0")) for k in ("CapEff", "CapPrm", "CapBnd"))
    rep.check(name + "-caps", eff == want_caps and prm == want_caps and bnd == want_caps and
              st.get("NoNewPrivs") == "1" and uid == want_uid,
              "uid %d (want %d) eff %s prm %s bnd %s nnp %s, want %s" % (
                  uid, want_uid, sorted(eff), sorted(prm), sorted(bnd), st.get("NoNewPrivs"),
                  sorted(want_caps)))
    # the processes keep their sockets until checked: sock_diag needs them alive
    t = L.Traffic("tcp", ns, ns, "127.0.0.1", 7401 + len(name), tag="pv").start()
    # both ends are local: sock_diag (conntrack mode) may name either one
    pids = {t.client.pid} if "--mode" not in args else {t.client.pid, t.server.pid}
    got = L.wait_until(lambda: any(
        o.get("pid") in pids for o in L.find_flow(
            [o for o in bg.objs()[0] if isinstance(o, dict)], "ipv4", "tcp", "127.0.0.1",
            "127.0.0.1", t.sport, t.port)), 5)
    rep.check(name + "-attributes", got, "the client's flow (pid %d) was not attributed; "
              "events %r" % (t.client.pid, [(o.get("type"), o.get("pid"), o.get("comm"), o.get("attr")) for o in L.find_flow([o for o in bg.objs()[0]
                                                          if isinstance(o, dict)],
                                                         "ipv4", "tcp", "127.0.0.1",
                                                         "127.0.0.1", t.sport, t.port)]))
    t.release()
    rc = bg.stop(signal.SIGINT, 10)
    rep.check(name + "-restores", rc == 0 and ns.sysctl(ACCT) == "0",
              "rc %r, nf_conntrack_acct %s after exit; stderr %r" % (
                  rc, ns.sysctl(ACCT), bg.stderr()[-200:]))


def main():
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        rep.skip_all("no user 'nobody' on this machine")
        return
    ns = L.Netns("priv")
    probe = L.flowtop(FT, ["--probe"])
    ebpf = "mode: ebpf" in probe.out
    netns_hook = any(l.split()[:2] == ["netns", "netfilter"] for l in probe.out.splitlines())
    ebpf_caps = BASE | {CAP_BPF} | ({CAP_SYS_ADMIN} if netns_hook else set())

    run_case(ns, "conntrack-root", ["--mode", "conntrack"], BASE, 0)
    run_case(ns, "conntrack-nobody", ["--mode", "conntrack", "--user", "nobody"], BASE, nobody)
    if ebpf:
        run_case(ns, "ebpf-nobody", ["--user", "nobody"], ebpf_caps, nobody)
    else:
        rep.skip("ebpf-nobody-runs", "eBPF attribution is not available here")
    # the state file nobody could not remove is gone after the next start
    left = [f for f in os.listdir("/run/flowtop") if f == "sysctl-%d" % ns.inode()] \
        if os.path.isdir("/run/flowtop") else []
    r = L.flowtop(FT, ["--netns", ns.name, "--json", "--once", "--no-geoip"])
    after = [f for f in os.listdir("/run/flowtop") if f == "sysctl-%d" % ns.inode()] \
        if os.path.isdir("/run/flowtop") else []
    rep.check("state-file-cleaned", r.rc == 0 and not after and ns.sysctl(ACCT) == "0",
              "before %r after %r, acct %s, rc %r" % (left, after, ns.sysctl(ACCT), r.rc))
    r = L.flowtop(FT, ["--json", "--once", "--user", "no-such-user-ft"])
    rep.check("unknown-user", r.rc == 2 and len(r.err_lines()) == 1 and
              "no-such-user-ft" in r.err, r.brief())


try:
    main()
finally:
    L.run_cleanups()
rep.finish()
