#!/usr/bin/env python3
"""--netns accepts a name (/run/netns/NAME), that file's path, and /proc/PID/ns/net of a
process inside the namespace: all three show the same flows."""
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("netns_path")


def view(res):
    return {f.get("id"): (L.key_of(f), L.norm_addr(f.get("reply_src")),
                          L.norm_addr(f.get("reply_dst")), f.get("reply_sport"),
                          f.get("reply_dport"), f.get("pid")) for f in res.flows}


def main():
    ns = L.Netns("path")
    ts = [L.Traffic("tcp", ns, ns, "127.0.0.1", 7101, tag="p-tcp4").start(),
          L.Traffic("udp", ns, ns, "::1", 7102, tag="p-udp6").start(),
          L.Traffic("tcp", ns, ns, "::1", 7103, tag="p-tcp6").start()]
    sleeper = ns.spawn(["sleep", "60"])
    proc_path = "/proc/%d/ns/net" % sleeper.pid

    def inside():   # `ip netns exec` enters the namespace just after the fork
        try:
            return os.stat(proc_path).st_ino == ns.inode()
        except OSError:
            return False
    if not rep.check("sleeper-in-netns", L.wait_until(inside, 5),
                     "%s never showed the namespace's inode" % proc_path):
        return

    runs = {}
    for label, arg in (("name", ns.name), ("run-path", ns.path), ("proc-path", proc_path)):
        r = L.flowtop(FT, ["--netns", arg, "--json", "--once", "-t", "0.2"])
        ok = rep.check(label + "-exit-0", r.rc == 0 and r.summary is not None, r.brief())
        if ok:
            runs[label] = r
            rep.check(label + "-summary-netns", r.summary.get("netns") == ns.inode(),
                      "summary netns %r, namespace inode %d" % (r.summary.get("netns"),
                                                                ns.inode()))
    if "name" not in runs:
        return
    base = view(runs["name"])
    for t in ts:
        fam, pn, src, dst, sport, dport = t.orig()
        rep.check("name-has-" + t.tag,
                  len(L.find_flow(runs["name"].flows, fam, pn, src, dst, sport, dport)) == 1,
                  "flow %r not in the --netns NAME output" % (t.orig(),))
    for label in ("run-path", "proc-path"):
        if label not in runs:
            continue
        other = view(runs[label])
        diff = {k for k in set(base) | set(other) if base.get(k) != other.get(k)}
        rep.check(label + "-same-flows", not diff,
                  "flows differing from --netns NAME: %r" % [
                      (k, base.get(k), other.get(k)) for k in list(diff)[:3]])
    for t in ts:
        t.release()


try:
    main()
except Exception as e:
    import traceback
    rep.fail("error", "%s: %s" % (type(e).__name__, L.one_line(traceback.format_exc()[-600:])))
rep.finish()
