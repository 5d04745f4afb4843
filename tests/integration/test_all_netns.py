#!/usr/bin/env python3
"""test_all_netns - `--all-netns` watches every network namespace, also those made later.

Namespaces X and Y exist before flowtop starts (`--all-netns --json --events`), Z is made
while it runs, Y is deleted while it runs. A TCP exchange on the loopback of each shows up
tagged with its own namespace (netns inode and netns_name), attributed to its client in eBPF
mode, with byte counters (flowtop switched accounting on in each namespace). flowtop keeps
running when Y goes away, and on exit puts nf_conntrack_acct back in every namespace it
changed. Then the same after SIGKILL: the next start restores them.
"""
import os
import signal
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("all_netns")
ACCT = "net.netfilter.nf_conntrack_acct"


def events_of(objs, ns, t):
    evs = [o for o in objs if isinstance(o, dict) and o.get("type") in ("new", "update", "destroy")]
    fam, proto, src, dst, sport, dport = t.orig()
    return [o for o in L.find_flow(evs, fam, proto, src, dst, sport, dport)
            if o.get("netns") == ns.inode()]


def wait_ready(bg, ns):
    end = time.monotonic() + 10
    ident = 0x4400
    while time.monotonic() < end and bg.alive():
        L.ping(ns, "127.0.0.1", ident)
        if L.wait_until(lambda: any(isinstance(o, dict) and o.get("icmp_id") == ident and
                                    o.get("netns_name") == ns.name for o in bg.objs()[0]), 0.3):
            return True
        ident += 1
    return False


def exchange(ns, port):
    t = L.Traffic("tcp", ns, ns, "127.0.0.1", port, send=3000, reply=5000, close=True,
                  tag="an-%d" % port)
    t.start()
    return t


def main():
    X, Y = L.Netns("anx"), L.Netns("any")
    for ns in (X, Y):
        ns.set_sysctl(ACCT, 0)
        ns.set_sysctl("net.netfilter.nf_conntrack_tcp_timeout_time_wait", 1)
        ns.set_sysctl("net.netfilter.nf_conntrack_tcp_timeout_close", 1)
    bg = L.Background(FT, ["--all-netns", "--json", "--events", "--duration", "40"])
    ready = wait_ready(bg, X)
    rep.check("ready", ready, "no flow of %s seen (stderr %r)" % (X.name, bg.stderr()[-300:]))
    if not ready:
        return
    rep.check("acct-on", X.sysctl(ACCT) == "1" and Y.sysctl(ACCT) == "1",
              "nf_conntrack_acct X=%s Y=%s" % (X.sysctl(ACCT), Y.sysctl(ACCT)))

    tx, ty = exchange(X, 7301), exchange(Y, 7302)
    Z = L.Netns("anz")
    Z.set_sysctl(ACCT, 0)
    Z.set_sysctl("net.netfilter.nf_conntrack_tcp_timeout_time_wait", 1)
    Z.set_sysctl("net.netfilter.nf_conntrack_tcp_timeout_close", 1)
    z_seen = L.wait_until(lambda: Z.sysctl(ACCT) == "1", 6)
    rep.check("new-netns-found", z_seen, "Z's nf_conntrack_acct is %s 6 s after it was made" %
              Z.sysctl(ACCT))
    tz = exchange(Z, 7303)
    for t in (tx, ty, tz):
        t.release()

    def all_destroyed():
        objs = bg.objs()[0]
        return all(any(o.get("type") == "destroy" for o in events_of(objs, ns, t))
                   for ns, t in ((X, tx), (Y, ty), (Z, tz)))
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10 and not all_destroyed():
        time.sleep(0.5)
        for ns in (X, Y, Z):
            ns.run(["conntrack", "-F"] if time.monotonic() - t0 > 5 else ["conntrack", "-L"])
    objs = bg.objs()[0]
    ebpf = any(isinstance(o, dict) and o.get("attr") == "ebpf" for o in objs)
    for ns, t in ((X, tx), (Y, ty), (Z, tz)):
        evs = events_of(objs, ns, t)
        d = [o for o in evs if o.get("type") == "destroy"]
        bad = [o.get("type") for o in evs if o.get("netns_name") != ns.name]
        counted = bool(d) and d[-1].get("orig_bytes") is not None and d[-1]["orig_bytes"] >= 3000
        owner = (not ebpf) or all(o.get("pid") == t.client.pid for o in evs)
        rep.check("flow-" + ns.name.split("-")[1], evs and d and not bad and counted and owner,
                  "events %r" % [(o.get("type"), o.get("netns_name"), o.get("pid"),
                                  o.get("orig_bytes")) for o in evs] +
                  " want netns_name %s, pid %d, orig_bytes >= 3000" % (ns.name, t.client.pid))

    # Y goes away while flowtop runs
    Y.destroy()
    time.sleep(2.5)
    rep.check("netns-gone", bg.alive(), "flowtop exited when %s was deleted: %r" % (
        Y.name, bg.stderr()[-300:]))
    rc = bg.stop(signal.SIGINT, 10)
    rep.check("exit", rc == 0, "rc %r, stderr %r" % (rc, bg.stderr()[-300:]))
    rep.check("acct-restored", X.sysctl(ACCT) == "0" and Z.sysctl(ACCT) == "0",
              "after exit: X=%s Z=%s" % (X.sysctl(ACCT), Z.sysctl(ACCT)))

    # SIGKILL: nothing runs to restore; the next start does it
    bg = L.Background(FT, ["--all-netns", "--json", "--events", "--duration", "20"])
    on = L.wait_until(lambda: X.sysctl(ACCT) == "1" and Z.sysctl(ACCT) == "1", 8)
    os.kill(bg.pid, signal.SIGKILL)
    bg.wait(5)
    left = (X.sysctl(ACCT), Z.sysctl(ACCT))
    r = L.flowtop(FT, ["--json", "--once", "--no-geoip"], timeout=20)
    rep.check("kill9-restored", on and left == ("1", "1") and r.rc == 0 and
              X.sysctl(ACCT) == "0" and Z.sysctl(ACCT) == "0",
              "on %s, after kill -9 %r, after the next start X=%s Z=%s (rc %r %s)" % (
                  on, left, X.sysctl(ACCT), Z.sysctl(ACCT), r.rc, r.err_lines()[:2]))


try:
    main()
finally:
    L.run_cleanups()
rep.finish()
