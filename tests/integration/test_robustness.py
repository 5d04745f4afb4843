#!/usr/bin/env python3
"""test_robustness - overruns, a full table, signals, a closed stdout, resize storms.

1. Event overrun: a 4 KiB event buffer and a burst of 20000 new UDP flows. flowtop must
   count the overruns and the flows recovered by re-dumping, and its next snapshot must hold
   exactly the flows `conntrack -L` lists.
2. Full table: nf_conntrack_max (global: child namespaces cannot set their own) is lowered
   for a few seconds below what a burst makes; flowtop says so once on stderr and in the
   summary (table_full), keeps running, and clears it when the limit is back; also when the
   table was back under its limit before flowtop looked (the kernel's drop counters); with
   --all-netns, a full table in another namespace, named; in the
   view (tmux), the status line says so, and that it was full for a while after.
3. Signals: SIGHUP, SIGTERM and a crash signal (SIGSEGV) while eBPF programs are attached:
   sysctls are put back and no program of flowtop is left.
4. The interactive view ended by SIGTERM, and crashed (SIGSEGV), in tmux: the terminal is
   usable and cooked again.
5. A resize storm down to 1x1 and 1-column terminals: still running, q exits 0.
6. stdout closed under --batch and --json --events: flowtop ends, no hang, sysctls back.
"""
import os
import random
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("robustness", tools=("ip", "conntrack", "tmux"))
FLOWGEN = os.path.join(os.path.dirname(FT), "flowgen")
ACCT = "net.netfilter.nf_conntrack_acct"
MAX = "/proc/sys/net/netfilter/nf_conntrack_max"


def burst(ns, n, rate=100000):
    """n new UDP flows on loopback as fast as the generator goes (tools/flowgen.c)."""
    secs = max(n / float(rate), 0.05)
    return ns.run([FLOWGEN, "udp-flows", "127.0.0.1", str(rate), "%.3f" % secs], timeout=30)


def ct_keys(ns):
    return {L.key_of(f) for f in L.ct_entries(ns)}


def snapshots(objs):
    """[(flows, summary)] of a --json snapshot stream."""
    out, cur = [], []
    for o in objs:
        if not isinstance(o, dict):
            continue
        if o.get("type") == "summary":
            out.append((cur, o))
            cur = []
        elif o.get("type") == "flow":
            cur.append(o)
    return out


def overrun():
    ns = L.Netns("rbo")
    bg = L.Background(FT, ["--netns", ns.name, "--json", "-t", "0.5", "--rcvbuf", "4096",
                           "--mode", "conntrack", "--no-geoip"])
    if not L.wait_until(lambda: snapshots(bg.objs()[0]), 10):
        rep.fail("overrun-runs", "no snapshot: %r" % bg.stderr()[-300:])
        return
    r = burst(ns, 20000)
    made = r.stdout.strip()
    time.sleep(1.5)             # two more dumps after the burst

    def settled():
        snaps = snapshots(bg.objs()[0])
        return snaps and {L.key_of(f) for f in snaps[-1][0]} == ct_keys(ns)
    same = L.wait_until(settled, 8, 0.5)
    snaps = snapshots(bg.objs()[0])
    flows, summ = snaps[-1]
    ct = ct_keys(ns)
    mine = {L.key_of(f) for f in flows}
    rep.check("overrun-counted", summ.get("overruns", 0) > 0 and summ.get("resyncs", 0) > 0 and
              summ.get("events_lost", 0) > 0,
              "after a 20000-flow burst into 4 KiB: overruns %r resyncs %r events_lost %r (%s)" % (
                  summ.get("overruns"), summ.get("resyncs"), summ.get("events_lost"), made))
    # (a few of the generated tuples repeat: somewhat fewer entries than datagrams)
    rep.check("overrun-consistent", same and len(ct) >= 15000,
              "flowtop %d flows, conntrack -L %d; only flowtop %d %r, only conntrack %d %r" % (
                  len(mine), len(ct), len(mine - ct), sorted(mine - ct)[:3], len(ct - mine),
                  sorted(ct - mine)[:3]))
    L.info("overrun: %s; overruns %s, resyncs %s, events lost (recovered by re-dump) %s" % (
        made, summ.get("overruns"), summ.get("resyncs"), summ.get("events_lost")))
    rc = bg.stop(signal.SIGINT, 10)
    rep.check("overrun-exit", rc == 0, "rc %r %r" % (rc, bg.stderr()[-200:]))
    ns.destroy()            # its 20000 entries must not be the full table found below


def table_full():
    with open(MAX) as f:
        old = f.read().strip()
    with open("/proc/sys/net/netfilter/nf_conntrack_count") as f:
        host_count = int(f.read())
    if host_count > 64:
        for c in ("table-full", "table-full-after-gc", "table-full-all-netns", "table-full-view",
                  "table-was-full-view"):
            rep.skip(c, "the host's own table has %d entries: lowering the global "
                     "nf_conntrack_max would drop its connections" % host_count)
        return

    def set_max(v):
        with open(MAX, "w") as f:
            f.write(str(v))
    L.on_cleanup(lambda: set_max(old))

    def start(tag):
        ns = L.Netns(tag)
        bg = L.Background(FT, ["--netns", ns.name, "--json", "-t", "0.5", "--mode",
                               "conntrack", "--no-geoip"])
        if not L.wait_until(lambda: len(snapshots(bg.objs()[0])) >= 2, 10):
            return ns, bg, "no snapshot: %r" % bg.stderr()[-300:]
        return ns, bg, None

    def fill(ns, bg, paused=False):
        """Lower the limit to 300, make a 600-flow burst in ns and put the limit back; wait
        for a snapshot that says full: while the limit is low, or with flowtop stopped
        (paused) during all that, after it."""
        full = lambda: any(s.get("table_full") for _, s in snapshots(bg.objs()[0]))
        seen = False
        if paused:
            bg.send_signal(signal.SIGSTOP)
        set_max(300)
        try:
            burst(ns, 600, 20000)
            if not paused:
                seen = L.wait_until(full, 5)
        finally:
            set_max(old)
            if paused:
                bg.send_signal(signal.SIGCONT)
        return seen or (paused and L.wait_until(full, 5))

    def finish(bg):
        cleared = L.wait_until(lambda: snapshots(bg.objs()[0])[-1][1].get("table_full") is False,
                               5)
        alive = bg.alive()
        rc = bg.stop(signal.SIGINT, 10)
        lines = [l for l in bg.stderr().splitlines() if "table full" in l]
        summ = [s for _, s in snapshots(bg.objs()[0]) if s.get("table_full")]
        first = summ[:1] and {k: summ[0].get(k, 0) for k in ("ct_count", "ct_max", "ct_dropped",
                                                           "ct_evicted")}
        return cleared, alive, rc, lines, first

    # 1. A burst twice the limit: full while it lasts (by the count, or by the drops and
    #    evictions when the kernel's garbage collector has already taken it back under 95%)
    ns, bg, err = start("rbf")
    if err:
        rep.fail("table-full", err)
    else:
        full = fill(ns, bg)
        cleared, alive, rc, lines, first = finish(bg)
        ns.destroy()        # its full table must not be the one --all-netns finds below
        rep.check("table-full", full and cleared and alive and rc == 0 and len(lines) == 1 and
                  first and first["ct_max"] == 300 and
                  (first["ct_count"] >= 300 or first["ct_dropped"] + first["ct_evicted"] > 0),
                  "full seen %s (%r), cleared %s, alive %s, rc %r, stderr lines %r" % (
                      full, first, cleared, alive, rc, lines))

    # 2. The table filled and was far below its limit again before flowtop looked (flowtop
    #    stopped meanwhile): the kernel's drop counters still make it a full table
    ns, bg, err = start("rbg")
    if err:
        rep.fail("table-full-after-gc", err)
    else:
        full = fill(ns, bg, paused=True)    # far under the limit again when it looks
        cleared, alive, rc, lines, first = finish(bg)
        ns.destroy()
        rep.check("table-full-after-gc", full and cleared and alive and rc == 0 and
                  len(lines) == 1 and first and first["ct_count"] < first["ct_max"] and
                  first["ct_dropped"] > 0 and "packets dropped" in lines[0],
                  "full seen %s (%r), cleared %s, alive %s, rc %r, stderr lines %r" % (
                      full, first, cleared, alive, rc, lines))

    # 3. --all-netns: a full table in another namespace than flowtop's own, named
    ns = L.Netns("rbn")
    bg = L.Background(FT, ["--all-netns", "--json", "-t", "0.5", "--mode", "conntrack",
                           "--no-geoip", "--no-sysctl"])
    watched = L.wait_until(lambda: any(s.get("netns_watched", 0) >= 2 for _, s in
                                       snapshots(bg.objs()[0])), 10)
    full = fill(ns, bg)
    cleared, alive, rc, lines, first = finish(bg)
    rep.check("table-full-all-netns", watched and full and cleared and alive and rc == 0 and
              len(lines) == 1 and ("in %s " % ns.name) in lines[0] + " ",
              "watching it %s, full seen %s (%r), cleared %s, alive %s, rc %r, stderr lines "
              "%r (want one naming %s)" % (watched, full, first, cleared, alive, rc, lines,
                                          ns.name))

    # 3. The view, as a person sees it: the status line says so while it is full, and for a
    #    while after (a full table often lasts less than one refresh)
    ns = L.Netns("rbv")
    t = Tmux("tf", cols=140, lines=20)
    t.keys("%s --netns %s --mode conntrack --no-geoip -t 0.5; echo FT_EXIT=$?" % (
        FT, ns.name), "Enter")
    up = t.wait("[Flows]", 10)
    set_max(300)
    try:
        burst(ns, 600, 20000)
        full = t.wait("conntrack table full (", 5)
        scr_full = t.screen()
    finally:
        set_max(old)
    was = t.wait("conntrack table was last full at", 5)
    scr_was = t.screen()
    t.keys("q")
    ended = t.wait("FT_EXIT=0", 10)
    status = lambda scr: [l.strip() for l in scr.splitlines() if "conntrack table" in l][-1:]
    rep.check("table-full-view", up and full and ended and "packets dropped" in scr_full,
              "view up %s, full line %r, q exit 0 %s" % (up, status(scr_full), ended))
    rep.check("table-was-full-view", was and "entries evicted in all" in scr_was,
              "after: %r" % status(scr_was))


def signals():
    probe = L.flowtop(FT, ["--probe"])
    ebpf = "mode: ebpf" in probe.out
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGSEGV):
        name = "signal-" + sig.name.lower()
        ns = L.Netns("rbs")
        ns.set_sysctl(ACCT, 0)
        bg = L.Background(FT, ["--netns", ns.name, "--json", "--events", "--no-geoip"])
        ok = L.wait_until(lambda: ns.sysctl(ACCT) == "1" and
                          (not ebpf or len(L.ft_prog_ids(bg.pid)) >= 3), 10)
        progs = L.ft_prog_ids(bg.pid) if ebpf else set()
        bg.send_signal(sig)
        rc = bg.wait(10)
        left = set(L.bpf_progs() or {}) & progs if progs else set()
        if left:
            L.wait_until(lambda: not (set(L.bpf_progs() or {}) & progs), 3, 0.1)
            left = set(L.bpf_progs() or {}) & progs
        want_rc = -sig if sig == signal.SIGSEGV else None
        rep.check(name, ok and rc is not None and (want_rc is None or rc == want_rc) and
                  ns.sysctl(ACCT) == "0" and not left,
                  "set up %s, rc %r, acct after %s, programs left %r of %r" % (
                      ok, rc, ns.sysctl(ACCT), sorted(left), sorted(progs)))


class Tmux:
    def __init__(self, tag, cols=100, lines=30):
        self.sock = "ft-rb-%s-%d" % (tag, os.getpid())
        self.sess = "rb"
        L.on_cleanup(self.kill)
        L.run(["tmux", "-L", self.sock, "-f", "/dev/null", "new-session", "-d", "-s", self.sess,
               "-x", str(cols), "-y", str(lines),
               "env -i PATH=%s TERM=screen-256color LANG=C.UTF-8 PS1='$ ' bash --norc "
               "--noprofile -i" % os.environ.get("PATH", "/usr/bin:/bin")], check=True)
        self.tm("set-option", "-t", self.sess, "window-size", "manual")

    def tm(self, *args):
        return L.run(["tmux", "-L", self.sock] + list(args), timeout=10)

    def keys(self, *k):
        self.tm("send-keys", "-t", self.sess, *k)

    def screen(self):
        return self.tm("capture-pane", "-p", "-t", self.sess).stdout

    def wait(self, text, timeout=10):
        return L.wait_until(lambda: text in self.screen(), timeout, 0.2)

    def pane_pid(self):
        return int(self.tm("display-message", "-p", "-t", self.sess, "#{pane_pid}").stdout)

    def kill(self):
        self.tm("kill-server")


def flowtop_pid_under(shell_pid):
    r = L.run(["pgrep", "-P", str(shell_pid), "-x", "flowtop"])
    pids = [int(p) for p in r.stdout.split()]
    return pids[0] if pids else None


def ui_crash_and_storm():
    ns = L.Netns("rbu")
    t = Tmux("ui")
    t.keys("%s --netns %s --no-geoip -t 0.5; echo FT_EXIT=$?" % (FT, ns.name), "Enter")
    up = t.wait("[Flows]", 10)
    # a storm of sizes, tiny ones included, faster than the refresh
    sizes = [(1, 1), (1, 30), (200, 1), (2, 2), (13, 5), (80, 24), (1, 1), (300, 80)]
    rnd = random.Random(7)
    sizes += [(rnd.randint(1, 160), rnd.randint(1, 50)) for _ in range(40)]
    for c, l in sizes:
        t.tm("resize-window", "-t", t.sess, "-x", str(c), "-y", str(l))
        time.sleep(0.02)
    t.tm("resize-window", "-t", t.sess, "-x", "100", "-y", "30")
    alive = flowtop_pid_under(t.pane_pid()) is not None
    back = t.wait("[Flows]", 10)
    rep.check("resize-storm", up and alive and back,
              "started %s, alive after %d resizes %s, full screen back %s" % (
                  up, len(sizes), alive, back))
    # SIGTERM, then a crash, in the middle of the view: the terminal must come back usable
    for sig, code, name in ((signal.SIGTERM, "0", "term-terminal-restored"),
                            (signal.SIGSEGV, "139", "crash-terminal-restored")):
        if sig == signal.SIGSEGV:
            t.keys("clear; %s --netns %s --no-geoip -t 0.5; echo FT_EXIT=$?" % (FT, ns.name),
                   "Enter")
            t.wait("[Flows]", 10)
        pid = flowtop_pid_under(t.pane_pid())
        if pid:
            os.kill(pid, sig)
        ended = t.wait("FT_EXIT=" + code, 10)
        t.keys("clear; stty -a | tr ' ;' '\\n\\n' | grep -Ex -- '-?(icanon|echo)' | "
               "tr '\\n' ' '; echo STTY_DONE", "Enter")
        # the typed command has STTY_DONE in it too: wait for the output line
        L.wait_until(lambda: any("STTY_DONE" in l and "grep" not in l
                                 for l in t.screen().splitlines()), 10, 0.2)
        scr = t.screen()
        line = [l for l in scr.splitlines()
                if "STTY_DONE" in l and "echo" in l and "grep" not in l]
        cooked = bool(line) and "-icanon" not in line[-1] and "-echo " not in line[-1]
        rep.check(name, pid and ended and cooked and "[Flows]" not in scr,
                  "flowtop pid %r, exit %s seen %s, stty %r" % (pid, code, ended, line[-1:]))


def closed_stdout():
    for name, args in (("batch", ["--batch", "-t", "0.2"]),
                       ("events", ["--json", "--events"])):
        ns = L.Netns("rbc")
        ns.set_sysctl(ACCT, 0)
        p = subprocess.Popen([FT, "--netns", ns.name, "--no-geoip"] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        L.on_cleanup(lambda p=p: p.poll() is None and p.kill())
        L.wait_until(lambda: ns.sysctl(ACCT) == "1", 10)
        p.stdout.close()            # the reader went away (like `| head -1`)
        # something to write about, so that the write fails
        for i in range(5):
            L.ping(ns, "127.0.0.1", 0x4900 + i)
            if p.poll() is not None:
                break
            time.sleep(0.3)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
            p.kill()
        err = p.stderr.read().decode(errors="replace")
        rep.check("closed-stdout-" + name, rc is not None and rc >= 0 and
                  ns.sysctl(ACCT) == "0" and "Segmentation" not in err,
                  "rc %r, acct after %s, stderr %r" % (rc, ns.sysctl(ACCT), err[-200:]))


def main():
    if os.access(FLOWGEN, os.X_OK):
        overrun()
        table_full()
    else:
        for c in ("overrun-counted", "overrun-consistent", "overrun-exit", "table-full",
                  "table-full-after-gc", "table-full-all-netns", "table-full-view",
                  "table-was-full-view"):
            rep.skip(c, "no flowgen binary at %s (make test builds it)" % FLOWGEN)
    signals()
    ui_crash_and_storm()
    closed_stdout()


try:
    main()
finally:
    L.run_cleanups()
rep.finish()
