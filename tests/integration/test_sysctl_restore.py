#!/usr/bin/env python3
"""flowtop switches nf_conntrack_acct / nf_conntrack_timestamp on in the watched
namespace and puts back what it found: on a normal exit, after SIGTERM/SIGINT/SIGHUP,
and after SIGKILL at its next start; --no-sysctl leaves them alone; the host
namespace is not touched by a --netns run."""
import os
import signal
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("sysctl_restore")

ACCT = "net.netfilter.nf_conntrack_acct"
TS = "net.netfilter.nf_conntrack_timestamp"


def host_vals():
    out = []
    for k in (ACCT, TS):
        with open("/proc/sys/" + k.replace(".", "/")) as f:
            out.append(f.read().strip())
    return tuple(out)


def main():
    ns = L.Netns("sys")
    host0 = host_vals()

    def vals():
        return (ns.sysctl(ACCT), ns.sysctl(TS))

    def setv(a, t):
        ns.set_sysctl(ACCT, a)
        ns.set_sysctl(TS, t)

    def once(*extra):
        return L.flowtop(FT, ["--netns", ns.name, "--json", "--once", "-t", "0.2"] + list(extra))

    def events(*extra):
        return L.Background(FT, ["--netns", ns.name, "--json", "--events", "--duration", "60"]
                            + list(extra))

    # 1. --once: on during the run (summary says so), back to 0 0 after
    setv(0, 0)
    r = once()
    rep.check("once-exit-0", r.rc == 0, r.brief())
    rep.check("once-summary-acct", r.summary is not None and r.summary.get("acct") is True
              and r.summary.get("timestamp") is True,
              "summary acct=%r timestamp=%r (flowtop should have switched them on)" % (
                  (r.summary or {}).get("acct"), (r.summary or {}).get("timestamp")))
    rep.check("once-restores", vals() == ("0", "0"), "after --once: acct/timestamp %r, were 0 0"
              % (vals(),))

    # 2. events mode ended by signals
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        name = sig.name.lower()
        setv(0, 0)
        bg = events()
        on = L.wait_until(lambda: vals() == ("1", "1"), 5)
        rep.check(name + "-enabled-while-running", on,
                  "acct/timestamp %r 5 s after start (alive=%s, stderr=%r)" % (
                      vals(), bg.alive(), bg.stderr()[-200:]))
        rep.check(name + "-host-untouched-while-running", host_vals() == host0,
                  "host acct/timestamp %r while running, %r before" % (host_vals(), host0))
        rc = bg.stop(sig, 10)
        rep.check(name + "-exits", rc is not None, "still running 10 s after %s" % sig.name)
        if sig != signal.SIGHUP:
            rep.check(name + "-exit-0", rc == 0, "exit status %r after %s, stderr %r" % (
                rc, sig.name, bg.stderr()[-200:]))
        rep.check(name + "-restores", vals() == ("0", "0"),
                  "after %s: acct/timestamp %r, were 0 0" % (sig.name, vals()))

    # 3. SIGKILL: nothing can restore at once; the next start does
    setv(0, 0)
    bg = events()
    on = L.wait_until(lambda: vals() == ("1", "1"), 5)
    bg.stop(signal.SIGKILL, 10)
    if on:
        rep.check("sigkill-leaves-on", vals() == ("1", "1"),
                  "after SIGKILL acct/timestamp %r (expected still 1 1)" % (vals(),))
        r = once()
        rep.check("after-sigkill-next-run-exit-0", r.rc == 0, r.brief())
        rep.check("after-sigkill-next-run-restores", vals() == ("0", "0"),
                  "after the next --once run: acct/timestamp %r, the values before the "
                  "killed run were 0 0" % (vals(),))
        r = once()
        rep.check("after-sigkill-then-left-as-found", vals() == ("0", "0") and r.rc == 0,
                  "a further run: rc %r, acct/timestamp %r" % (r.rc, vals()))
    else:
        rep.fail("sigkill-leaves-on", "flowtop never switched acct/timestamp on: %r" % (vals(),))

    # 4. values found on (or mixed) are left as found
    for a, t in (("1", "1"), ("1", "0"), ("0", "1")):
        setv(a, t)
        r = once()
        rep.check("found-%s%s-left" % (a, t), vals() == (a, t) and r.rc == 0,
                  "found acct=%s timestamp=%s, after: %r (rc %r)" % (a, t, vals(), r.rc))

    # 5. --no-sysctl changes nothing
    setv(0, 0)
    bg = events("--no-sysctl")
    changed = L.wait_until(lambda: vals() != ("0", "0"), 1.5)
    rc = bg.stop(signal.SIGINT, 10)
    rep.check("no-sysctl-untouched", not changed and vals() == ("0", "0") and rc == 0,
              "with --no-sysctl acct/timestamp became %r (rc %r)" % (vals(), rc))
    r = once("--no-sysctl")
    rep.check("no-sysctl-once", r.rc == 0 and vals() == ("0", "0"),
              "rc %r, acct/timestamp %r" % (r.rc, vals()))
    rep.check("no-sysctl-summary-acct", r.summary is not None and r.summary.get("acct") is False
              and r.summary.get("timestamp") is False,
              "summary acct=%r timestamp=%r while both are 0" % (
                  (r.summary or {}).get("acct"), (r.summary or {}).get("timestamp")))

    # 6. two instances on one namespace: the second finds them on and leaves them on,
    #    the first restores when it ends
    setv(0, 0)
    bg = events()
    on = L.wait_until(lambda: vals() == ("1", "1"), 5)
    r = once()
    second = vals()
    rep.check("concurrent-second-leaves-on", on and second == ("1", "1") and r.rc == 0,
              "while a first instance runs, a second --once run left acct/timestamp %r (rc %r)"
              % (second, r.rc))
    rc = bg.stop(signal.SIGINT, 10)
    rep.check("concurrent-first-restores", vals() == ("0", "0") and rc == 0,
              "after the first instance ended: %r (rc %r)" % (vals(), rc))

    rep.check("host-untouched", host_vals() == host0,
              "host acct/timestamp %r at the end, %r at the start" % (host_vals(), host0))


try:
    main()
except Exception as e:
    import traceback
    rep.fail("error", "%s: %s" % (type(e).__name__, L.one_line(traceback.format_exc()[-600:])))
rep.finish()
