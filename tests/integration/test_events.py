#!/usr/bin/env python3
"""flowtop --json --events: new/update/destroy events for short flows, destroy carries
the final counters, summary at the end after SIGINT, --duration ends by itself."""
import os
import signal
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("events")


def events_for(objs, fid):
    return [o for o in objs if isinstance(o, dict) and o.get("id") == fid]


def main():
    ns = L.Netns("ev")
    # short timeouts so the flows end by themselves within the test
    for k in ("udp_timeout", "icmp_timeout", "icmpv6_timeout", "tcp_timeout_time_wait",
              "tcp_timeout_close", "tcp_timeout_fin_wait", "tcp_timeout_last_ack",
              "tcp_timeout_close_wait"):
        ns.set_sysctl("net.netfilter.nf_conntrack_" + k, 1)
    ns.set_sysctl("net.netfilter.nf_conntrack_acct", 0)
    ns.set_sysctl("net.netfilter.nf_conntrack_timestamp", 0)

    # a flow made before flowtop starts: the kernel sends no events for it (no listener
    # when it was created), only flowtop's periodic dumps can see it end
    pre = L.Traffic("tcp", ns, ns, "127.0.0.1", 6009, send=100, reply=100, tag="pre").start()

    bg = L.Background(FT, ["--netns", ns.name, "--json", "--events", "--duration", "40"])
    acct = L.wait_until(lambda: ns.sysctl("net.netfilter.nf_conntrack_acct") == "1", 5)
    rep.check("enables-acct", acct, "nf_conntrack_acct still %s 5 s after start" %
              ns.sysctl("net.netfilter.nf_conntrack_acct"))
    if not acct:
        ns.set_sysctl("net.netfilter.nf_conntrack_acct", 1)
    # ready when it reports a canary flow
    ready = False
    for i in range(25):
        ident = 0x3000 + i
        L.ping(ns, "127.0.0.1", ident)
        if L.wait_until(lambda: any(o.get("type") == "new" and o.get("icmp_id") == ident
                                    for o in bg.objs()[0] if isinstance(o, dict)), 0.3):
            ready = True
            break
        if not bg.alive():
            break
    if not rep.check("listening", ready, "no 'new' event for canary pings within ~8 s; "
                     "alive=%s stderr=%r lines=%r" % (bg.alive(), bg.stderr()[-300:],
                                                      [l for _, l in bg.lines][:3])):
        bg.stop(signal.SIGINT)
        return

    T = L.Traffic
    short = [
        T("tcp", ns, ns, "127.0.0.1", 6001, send=1000, reply=3000, close=True, tag="tcp4"),
        T("udp", ns, ns, "127.0.0.1", 6002, send=200, reply=400, close=True, tag="udp4"),
        T("tcp", ns, ns, "::1", 6003, send=500, reply=700, close=True, tag="tcp6"),
    ]
    for t in short:
        t.start()
        t.client.wait(3)
    held = T("tcp", ns, ns, "127.0.0.1", 6005, send=2500, reply=1500, tag="held").start()
    L.ping(ns, "::1", 0x2202)
    L.ping(ns, "127.0.0.1", 0x2201)
    time.sleep(0.3)
    # the held flow ends by deletion, the others by their (1 s) timeouts; a table dump
    # evicts expired entries, and flowtop's own dumps do the same
    ns.run(["conntrack", "-D", "-p", "tcp", "--orig-port-dst", "6005"])
    ns.run(["conntrack", "-D", "-p", "tcp", "--orig-port-dst", "6009"])

    def key_objs():
        return bg.objs()[0]

    def destroyed(objs, t):
        fam, pn, src, dst, sport, dport = t.orig()
        return any(o.get("type") == "destroy" for o in
                   L.find_flow(objs, fam, pn, src, dst, sport, dport))

    def icmp_destroyed(objs, fam, pname, addr, ident):
        return any(o.get("type") == "destroy"
                   for o in L.find_flow(objs, fam, pname, addr, addr, icmp_id=ident))

    def all_destroyed():
        objs = key_objs()
        return all(destroyed(objs, t) for t in short + [held, pre]) and \
            icmp_destroyed(objs, "ipv4", "icmp", "127.0.0.1", 0x2201) and \
            icmp_destroyed(objs, "ipv6", "icmpv6", "::1", 0x2202)

    end = time.monotonic() + 15
    while time.monotonic() < end and not all_destroyed():
        time.sleep(1)
        ns.run(["conntrack", "-L"])   # evicts expired entries -> DESTROY events
    held.release()
    pre.release()
    rc = bg.stop(signal.SIGINT, 10)
    objs, bad = bg.objs()

    rep.check("exit-0-after-sigint", rc == 0, "exit status %r, stderr %r" % (rc, bg.stderr()[-300:]))
    rep.check("valid-json", not bad, "lines that are not JSON: %r" % bad[:3])
    types = [o.get("type") if isinstance(o, dict) else None for o in objs]
    wrong = [t for t in types if t not in ("new", "update", "destroy", "summary")]
    rep.check("event-types", not wrong, "unexpected types %r" % wrong[:5])
    rep.check("summary-last", types and types[-1] == "summary" and types.count("summary") == 1,
              "last types %r, %d summaries" % (types[-3:], types.count("summary")))
    s = objs[-1] if objs and isinstance(objs[-1], dict) else {}
    rep.check("summary-fields", not L.missing_fields(s, L.SUMMARY_FIELDS),
              "summary lacks %s" % L.missing_fields(s, L.SUMMARY_FIELDS))
    rep.check("events-lost-0", s.get("events_lost") == 0, "events_lost=%r" % s.get("events_lost"))
    evs = [o for o in objs if isinstance(o, dict) and o.get("type") in ("new", "update", "destroy")]
    miss = [(o.get("type"), o.get("id"), L.missing_fields(o, L.FLOW_FIELDS)) for o in evs
            if L.missing_fields(o, L.FLOW_FIELDS)]
    rep.check("event-fields", not miss, "events lacking flow fields: %r" % miss[:3])

    def check_flow(name, matches, min_orig, min_reply, want_update=False):
        # (a later packet of the same tuple may start a new conntrack entry, with a new id:
        # the held flow's FIN after its entry was deleted does)
        news = [o for o in matches if o.get("type") == "new"]
        if not rep.check(name + "-new", len(news) >= 1, "no 'new' event for its tuple (%s)" % (
                [o.get("type") for o in matches])):
            return None
        fid = news[0].get("id")
        evs = events_for(objs, fid)
        kinds = [o.get("type") for o in evs]
        rep.check(name + "-one-new-per-id", kinds.count("new") == 1,
                  "events for id %r: %r" % (fid, kinds))
        rep.check(name + "-ids-match", all(L.key_of(o) == L.key_of(news[0]) for o in evs),
                  "events with id %r have different tuples: %r" % (fid, [L.key_of(o) for o in evs]))
        d = [o for o in evs if o.get("type") == "destroy"]
        if not rep.check(name + "-destroy", len(d) == 1 and kinds[-1] == "destroy" and
                         kinds[0] == "new", "events for id %r: %r" % (fid, kinds)):
            return fid
        d = d[0]
        ok = (d.get("orig_packets") or 0) >= 1 and (d.get("orig_bytes") or 0) >= min_orig and \
            (d.get("reply_packets") or 0) >= 1 and (d.get("reply_bytes") or 0) >= min_reply
        rep.check(name + "-destroy-counters", ok,
                  "destroy orig %r pkts/%r B, reply %r pkts/%r B; expected >= %d/%d B" % (
                      d.get("orig_packets"), d.get("orig_bytes"), d.get("reply_packets"),
                      d.get("reply_bytes"), min_orig, min_reply))
        rep.check(name + "-destroy-start", isinstance(d.get("start"), (int, float)),
                  "destroy start=%r (nf_conntrack_timestamp was on)" % d.get("start"))
        if want_update:
            rep.check(name + "-update", "update" in kinds, "events for id %r: %r" % (fid, kinds))
        return fid

    for t in short:
        fam, pn, src, dst, sport, dport = t.orig()
        check_flow(t.tag, L.find_flow(objs, fam, pn, src, dst, sport, dport),
                   t.send, t.reply, want_update=(t.proto == "tcp"))
    fam, pn, src, dst, sport, dport = held.orig()
    fid = check_flow("held-deleted", L.find_flow(objs, fam, pn, src, dst, sport, dport),
                     held.send, held.reply, want_update=True)
    if fid is not None:
        d = [o for o in events_for(objs, fid) if o.get("type") == "destroy"]
        if d:
            rep.check("held-deleted-state", d[0].get("state") == "ESTABLISHED",
                      "destroy state=%r" % d[0].get("state"))
        pids = {o.get("pid") for o in events_for(objs, fid)}
        rep.check("held-process", held.client.pid in pids,
                  "pids in its events %r, client pid %d" % (pids, held.client.pid))
    fam, pn, src, dst, sport, dport = pre.orig()
    m = [o for o in L.find_flow(objs, fam, pn, src, dst, sport, dport)
         if o.get("type") == "destroy"]
    rep.check("preexisting-flow-destroy", len(m) >= 1,
              "a flow made before flowtop started was deleted while it ran, no destroy event "
              "within 15 s (events for its tuple: %r)" % [
                  o.get("type") for o in L.find_flow(objs, fam, pn, src, dst, sport, dport)])
    check_flow("icmp4", L.find_flow(objs, "ipv4", "icmp", "127.0.0.1", "127.0.0.1",
                                    icmp_id=0x2201), 20, 20)
    check_flow("icmp6", L.find_flow(objs, "ipv6", "icmpv6", "::1", "::1", icmp_id=0x2202), 40, 40)

    # --duration ends the run by itself, with a summary and exit 0
    t0 = time.monotonic()
    r = L.flowtop(FT, ["--netns", ns.name, "--json", "--events", "--duration", "1"], timeout=15)
    dt = time.monotonic() - t0
    rep.check("duration-ends", r.rc == 0 and 0.9 <= dt <= 6,
              "--duration 1: rc=%r after %.1f s, stderr %r" % (r.rc, dt, r.err[-200:]))
    rep.check("duration-summary", r.objs and isinstance(r.objs[-1], dict) and
              r.objs[-1].get("type") == "summary" and not r.bad,
              "last line %r, bad lines %r" % (r.out.splitlines()[-1:] if r.out else None, r.bad[:2]))

    # SIGTERM ends it cleanly too
    bg2 = L.Background(FT, ["--netns", ns.name, "--json", "--events"])
    time.sleep(1)
    rc2 = bg2.stop(signal.SIGTERM, 10)
    objs2, bad2 = bg2.objs()
    rep.check("sigterm-summary", rc2 == 0 and objs2 and objs2[-1].get("type") == "summary",
              "rc=%r last=%r stderr=%r" % (rc2, objs2[-1:] if objs2 else None, bg2.stderr()[-200:]))


try:
    main()
except Exception as e:
    import traceback
    rep.fail("error", "%s: %s" % (type(e).__name__, L.one_line(traceback.format_exc()[-600:])))
rep.finish()
