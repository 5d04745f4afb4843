#!/usr/bin/env python3
"""flowtop's command line: bad usage, --help, --version, --netns errors, --batch,
no privilege, a namespace where tracking is not active."""
import os
import re
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("cli")

# every option of the contract and of the original flowtop
LONG_OPTS = ["--netns", "--json", "--once", "--events", "--duration", "--batch", "--iterations",
             "--mode", "--no-sysctl", "--help", "--version"]
SHORT_OPTS = ["-4", "-6", "-T", "-U", "-D", "-I", "-S", "-n", "-G", "-s", "-b", "-t", "-v", "-h"]


def main():
    # ---- bad usage: exit 2, exactly one line on stderr, nothing on stdout
    bad = [
        ["--no-such-option"],
        ["-t", "0"],
        ["-t", "abc"],
        ["-t", "-1"],
        ["-t"],
        ["--netns"],
        ["--mode", "bogus"],
        ["--json", "--once", "--iterations", "x"],
        ["--json", "--events", "--duration", "-5"],
    ]
    for args in bad:
        r = L.flowtop(FT, args, timeout=10)
        name = "bad-usage[%s]" % " ".join(args)
        lines = r.err_lines()
        rep.check(name, r.rc == 2 and len(lines) == 1 and not r.out.strip(),
                  "exit %r (want 2), %d stderr lines (want 1): %r, stdout %r" % (
                      r.rc, len(lines), r.err[:300], r.out[:100]))

    # ---- --help / --version
    r = L.flowtop(FT, ["--help"], timeout=10)
    rep.check("help-exit-0", r.rc == 0 and r.out.strip(), "exit %r, stdout %d bytes, stderr %r" % (
        r.rc, len(r.out), r.err[:200]))
    text = r.out + r.err
    missing = [o for o in LONG_OPTS + SHORT_OPTS
               if not re.search(r"(^|[\s,\[|(])%s($|[\s,=\]|)])" % re.escape(o), text, re.M)]
    rep.check("help-mentions-every-option", not missing, "--help does not mention %s" % missing)
    r = L.flowtop(FT, ["--version"], timeout=10)
    rep.check("version", r.rc == 0 and re.search(r"\d+\.\d+", r.out) and
              len(L.nonempty_lines(r.out)) == 1,
              "exit %r, stdout %r, stderr %r" % (r.rc, r.out[:200], r.err[:200]))

    # ---- --netns that does not exist
    for target in ("/nonexistent/netns", "ft-no-such-netns-%d" % os.getpid()):
        r = L.flowtop(FT, ["--netns", target, "--json", "--once", "-t", "0.2"], timeout=15)
        rep.check("netns-missing[%s]" % target, r.rc not in (0, "timeout") and
                  len(r.err_lines()) == 1 and not r.out.strip(),
                  "exit %r, stderr %r, stdout %r" % (r.rc, r.err[:300], r.out[:100]))

    ns = L.Netns("cli")
    t = L.Traffic("tcp", ns, ns, "127.0.0.1", 7001, send=100, reply=100, tag="cli").start()

    # ---- --batch --iterations 2 -t 0.2: two snapshots, exit 0
    t0 = time.monotonic()
    r = L.flowtop(FT, ["--netns", ns.name, "--batch", "--iterations", "2", "-t", "0.2"],
                  timeout=20)
    dt = time.monotonic() - t0
    rep.check("batch-exit-0", r.rc == 0 and not r.err.strip(),
              "exit %r after %.1f s, stderr %r" % (r.rc, dt, r.err[:300]))
    lines = r.out.splitlines()
    first = next((l for l in lines if l.strip()), "")
    word = first.split()[0] if first.split() else None
    heads = [l for l in lines if word and l.split()[:1] == [word]]
    rep.check("batch-two-snapshots", len(heads) == 2,
              "%d lines start like the first header line %r (want 2); output: %r" % (
                  len(heads), first[:80], r.out[:400]))
    rep.check("batch-shows-flow", str(t.sport) in r.out and "127.0.0.1" in r.out,
              "the TCP flow 127.0.0.1:%d -> :7001 is not in the batch output" % t.sport)
    rep.check("batch-timing", 0.15 <= dt <= 8, "2 iterations of 0.2 s took %.2f s" % dt)

    # ---- --mode conntrack is accepted and reported
    r = L.flowtop(FT, ["--netns", ns.name, "--json", "--once", "-t", "0.2", "--mode",
                       "conntrack"])
    rep.check("mode-conntrack", r.rc == 0 and r.summary and r.summary.get("mode") == "conntrack",
              "rc %r summary %r stderr %r" % (r.rc, r.summary, r.err[:200]))

    # ---- host namespace (no --netns)
    r = L.flowtop(FT, ["--json", "--once", "-t", "0.2", "--no-sysctl"])
    host_ino = os.stat("/proc/self/ns/net").st_ino
    rep.check("host-netns-once", r.rc == 0 and r.summary and
              r.summary.get("netns") == host_ino and not r.bad,
              "rc %r, summary netns %r (host %d), bad lines %r, stderr %r" % (
                  r.rc, (r.summary or {}).get("netns"), host_ino, r.bad[:2], r.err[:200]))

    # ---- no privilege
    if L.have("setpriv"):
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        probe = L.run(drop + ["test", "-x", FT])
        if probe.returncode != 0:
            rep.skip("unprivileged", "user 65534 cannot execute %s (directory permissions)" % FT)
        else:
            for name, args in (("unprivileged-netns", ["--netns", ns.name]),
                               ("unprivileged-host", [])):
                r = L.run(drop + [FT] + args + ["--json", "--once", "-t", "0.2"], timeout=15)
                lines = L.nonempty_lines(r.stderr)
                says = bool(re.search(r"root|privilege|CAP_|permission|not permitted",
                                      r.stderr, re.I))
                rep.check(name, r.returncode not in (0, 124) and len(lines) == 1 and says,
                          "as uid 65534: exit %r, stderr %r (want non-zero and one line naming "
                          "the missing privilege)" % (r.returncode, r.stderr[:300]))
    else:
        rep.skip("unprivileged", "setpriv (util-linux) not installed")

    # ---- a namespace where nothing activates tracking
    quiet = L.Netns("clinotrk", track=False)
    L.ping(quiet, "127.0.0.1", 0x4444)   # traffic, but no rule needs conntrack
    r = L.flowtop(FT, ["--netns", quiet.name, "--json", "--once", "-t", "0.2"])
    s = r.summary or {}
    rep.check("untracked-netns", r.rc == 0 and s.get("flows") == 0 and
              s.get("tracking") != "active",
              "rc %r, summary flows=%r tracking=%r (want flows 0 and tracking \"inactive\"), "
              "stderr %r" % (r.rc, s.get("flows"), s.get("tracking"), r.err[:200]))
    if s.get("tracking") != "inactive":
        rep.note("untracked namespace reported tracking=%r (\"inactive\" would tell the user "
                 "more)" % s.get("tracking"))
    t.release()


try:
    main()
except Exception as e:
    import traceback
    rep.fail("error", "%s: %s" % (type(e).__name__, L.one_line(traceback.format_exc()[-600:])))
rep.finish()
