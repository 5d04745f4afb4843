#!/usr/bin/env python3
"""flowtop --json --once against `conntrack -L` in a namespace with real traffic.

Flows made in namespace A (tracking on, acct/timestamp switched on before the
traffic): TCP, UDP, UDP-Lite, ICMP, SCTP on 127.0.0.1; TCP, UDP, ICMPv6 on ::1;
over a veth to namespace B: TCP out and in (IPv4 and IPv6), UDP out (IPv4) and
in (IPv6), ICMP; one TCP flow keeps sending during the measuring interval.
"""
import os
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("json_vs_conntrack")


def main():
    a = L.Netns("jvc")
    b = L.Netns("jvcb", track=False)
    L.veth(a, b, ["10.201.1.1/24", "fd00:201::1/64"], ["10.201.1.2/24", "fd00:201::2/64"])
    # counters and timestamps must exist for the flows made below
    a.set_sysctl("net.netfilter.nf_conntrack_acct", 1)
    a.set_sysctl("net.netfilter.nf_conntrack_timestamp", 1)
    t_begin = time.time()

    T = L.Traffic
    local = [   # (traffic, which process owns the flow in A: "client" or "server")
        (T("tcp", a, a, "127.0.0.1", 5001, send=1000, reply=2000, tag="tcp4"), "client"),
        (T("udp", a, a, "127.0.0.1", 5002, send=100, reply=200, tag="udp4"), "client"),
        (T("udplite", a, a, "127.0.0.1", 5011, send=100, reply=300, tag="udpl4"), "client"),
        (T("tcp", a, a, "::1", 5003, send=1500, reply=500, tag="tcp6"), "client"),
        (T("udp", a, a, "::1", 5004, send=120, reply=60, tag="udp6"), "client"),
        (T("tcp", a, b, "10.201.1.2", 5005, send=3000, reply=100, tag="tcp4-out"), "client"),
        (T("tcp", b, a, "10.201.1.1", 5006, send=100, reply=4000, tag="tcp4-in"), "server"),
        (T("tcp", a, b, "fd00:201::2", 5007, send=2000, reply=2000, tag="tcp6-out"), "client"),
        (T("udp", b, a, "fd00:201::1", 5008, send=300, reply=30, tag="udp6-in"), "server"),
        (T("udp", a, b, "10.201.1.2", 5009, send=50, reply=500, tag="udp4-out"), "client"),
        (T("tcp", a, a, "127.0.0.1", 5012, send=100, reply=100, stream=200000,
           tag="stream"), "client"),
    ]
    for t, _ in local:
        t.start()
    pings = [("ipv4", "127.0.0.1", 0x1101), ("ipv6", "::1", 0x1102),
             ("ipv4", "10.201.1.2", 0x1103), ("ipv6", "fd00:201::2", 0x1104)]
    for fam, addr, ident in pings:
        L.ping(a, addr, ident)
    sctp, sctp_how = L.sctp_flow(a, "127.0.0.1", 40001, 5010)

    ct_before = L.ct_list(a)
    res = L.flowtop(FT, ["--netns", a.name, "--json", "--once", "-t", "0.5"])
    ct_after = L.ct_list(a)
    t_end = time.time()

    # ---- the run itself
    if not rep.check("exit-0", res.rc == 0, res.brief()):
        return
    rep.check("stderr-empty", not res.err.strip(), "stderr: %r" % res.err[:300])
    rep.check("valid-json", not res.bad, "lines that are not JSON: %r" % res.bad[:3])
    types = [o.get("type") for o in res.objs]
    rep.check("one-summary-last", types.count("summary") == 1 and types[-1] == "summary",
              "types of the lines: %s" % types[-5:])
    bad_types = [t for t in types if t not in ("flow", "destination", "summary")]
    rep.check("line-types", not bad_types, "unexpected types %r" % bad_types[:5])
    s = res.summary or {}
    rep.check("summary-fields", not L.missing_fields(s, L.SUMMARY_FIELDS),
              "summary lacks %s: %r" % (L.missing_fields(s, L.SUMMARY_FIELDS), s))
    rep.check("summary-flows-count", s.get("flows") == len(res.flows),
              "summary flows=%r, flow lines=%d" % (s.get("flows"), len(res.flows)))
    # auto mode: ebpf where the kernel lets it load, else the conntrack fallback (with reason)
    mode = s.get("mode")
    rep.check("summary-mode", mode == "ebpf" or (mode == "conntrack" and s.get("mode_reason")),
              "mode=%r reason=%r" % (mode, s.get("mode_reason")))
    if mode == "ebpf":
        rep.check("summary-probes", (s.get("probes") or {}).get("flow") not in (None, "none"),
                  "probes=%r" % s.get("probes"))
    rep.check("summary-netns", s.get("netns") == a.inode(),
              "netns=%r, inode of %s is %d" % (s.get("netns"), a.path, a.inode()))
    rep.check("summary-acct-timestamp", s.get("acct") is True and s.get("timestamp") is True,
              "acct=%r timestamp=%r" % (s.get("acct"), s.get("timestamp")))
    rep.check("summary-tracking", s.get("tracking") == "active", "tracking=%r" % s.get("tracking"))
    rep.check("summary-attr", s.get("attr") == ("ebpf" if mode == "ebpf" else "sockdiag"),
              "attr=%r mode=%r" % (s.get("attr"), mode))
    rep.check("summary-counters", isinstance(s.get("events_lost"), int)
              and isinstance(s.get("resyncs"), int) and isinstance(s.get("probes"), dict),
              "events_lost=%r resyncs=%r probes=%r" % (s.get("events_lost"), s.get("resyncs"),
                                                       s.get("probes")))
    miss = {}
    for f in res.flows:
        m = L.missing_fields(f, L.FLOW_FIELDS)
        if m:
            miss[f.get("id")] = m
    rep.check("flow-fields", not miss, "flows lacking fields: %r" % list(miss.items())[:3])
    # acct/timestamp were on when flowtop started: it must leave them on
    rep.check("sysctl-left-as-found",
              a.sysctl("net.netfilter.nf_conntrack_acct") == "1"
              and a.sysctl("net.netfilter.nf_conntrack_timestamp") == "1",
              "acct=%s timestamp=%s after flowtop exited (were 1 before)" % (
                  a.sysctl("net.netfilter.nf_conntrack_acct"),
                  a.sysctl("net.netfilter.nf_conntrack_timestamp")))

    # ---- same set of flows as conntrack
    ft_by_id = {}
    dup = []
    for f in res.flows:
        if f.get("id") in ft_by_id:
            dup.append(f.get("id"))
        ft_by_id[f.get("id")] = f
    rep.check("ids-unique", not dup, "ids listed twice: %r" % dup[:5])
    both = set(ct_before) & set(ct_after)
    either = set(ct_before) | set(ct_after)
    missing = both - set(ft_by_id)
    extra = set(ft_by_id) - either
    rep.check("same-flow-set-by-id", not missing and not extra,
              "in conntrack but not flowtop: %s; in flowtop but not conntrack: %s" % (
                  [ct_before[i]["line"] for i in list(missing)[:3]],
                  [(i, L.key_of(ft_by_id[i])) for i in list(extra)[:3]]))
    ct_keys = {L.key_of(f) for f in list(ct_before.values()) + list(ct_after.values())}
    ft_keys = {L.key_of(f) for f in res.flows}
    bad_keys = [k for k in ft_keys if k not in ct_keys]
    rep.check("same-flow-set-by-tuple", not bad_keys,
              "orig tuples not in conntrack: %r" % bad_keys[:3])

    tuple_bad, state_bad, cnt_bad, status_bad, meta_bad, netns_bad, time_bad = (
        [], [], [], [], [], [], [])
    for fid, f in ft_by_id.items():
        cb = ct_before.get(fid)
        ca = ct_after.get(fid)
        c = cb or ca
        if c is None:
            continue
        d = L.tuple_diffs(f, c)
        if d:
            tuple_bad.append("id %d: %s" % (fid, "; ".join(d)))
        states = {x["state"] for x in (cb, ca) if x}
        if f.get("state") not in states:
            state_bad.append("id %d %s: flowtop %r, conntrack %r" % (
                fid, c["proto_name"], f.get("state"), sorted(states, key=str)))
        for k in ("orig_packets", "orig_bytes", "reply_packets", "reply_bytes"):
            lo = cb.get(k) if cb else None
            hi = ca.get(k) if ca else None
            v = f.get(k)
            if (lo is None and hi is None) != (v is None) or \
               (v is not None and ((lo is not None and v < lo) or (hi is not None and v > hi))):
                cnt_bad.append("id %d %s %s=%r, conntrack before=%r after=%r" % (
                    fid, c["proto_name"], k, v, lo, hi))
        words = set(f.get("status") or [])
        for w in ("assured", "seen_reply"):
            ct_has = {w in x["status_words"] for x in (cb, ca) if x}
            if len(ct_has) == 1 and (w in words) not in ct_has:
                status_bad.append("id %d %s: %s flowtop=%s conntrack=%s" % (
                    fid, c["proto_name"], w, w in words, ct_has.pop()))
        if f.get("mark") != c["mark"] or f.get("zone") != c["zone"]:
            meta_bad.append("id %d mark/zone flowtop %r/%r conntrack %r/%r" % (
                fid, f.get("mark"), f.get("zone"), c["mark"], c["zone"]))
        if f.get("netns") != a.inode():
            netns_bad.append("id %d netns=%r" % (fid, f.get("netns")))
        if c.get("timeout") is not None and f.get("timeout") is not None:
            if not (0 <= f["timeout"] <= c["timeout"] + 2):
                time_bad.append("id %d timeout flowtop %r conntrack %r" % (
                    fid, f["timeout"], c["timeout"]))
    rep.check("tuples-both-directions", not tuple_bad, "; ".join(tuple_bad[:4]))
    rep.check("state", not state_bad, "; ".join(state_bad[:4]))
    rep.check("counters-consistent", not cnt_bad, "; ".join(cnt_bad[:4]))
    rep.check("status-assured-seen_reply", not status_bad, "; ".join(status_bad[:4]))
    conf = [fid for fid, f in ft_by_id.items() if "confirmed" not in (f.get("status") or [])]
    rep.check("status-confirmed", not conf,
              "%d flows lack 'confirmed' (every listed conntrack entry has IPS_CONFIRMED), "
              "e.g. status=%r" % (len(conf), ft_by_id[conf[0]].get("status") if conf else None))
    rep.check("mark-zone", not meta_bad, "; ".join(meta_bad[:4]))
    rep.check("flow-netns", not netns_bad, "; ".join(netns_bad[:4]))
    rep.check("timeout", not time_bad, "; ".join(time_bad[:4]))

    # ---- each flow made above
    def one(name, matches, proto_name):
        if len(matches) != 1:
            rep.fail(name + "-present", "expected 1 flowtop flow, found %d" % len(matches))
            return None
        f = matches[0]
        rep.check(name + "-proto", f.get("proto") == proto_name,
                  "proto=%r, expected %r" % (f.get("proto"), proto_name))
        st = f.get("start")
        okstart = isinstance(st, (int, float)) and t_begin - 2 <= st <= t_end + 1
        age = f.get("age_s")
        okage = isinstance(age, (int, float)) and -0.5 <= age <= (t_end - t_begin) + 2
        rep.check(name + "-start-age", okstart and okage,
                  "start=%r (made between %.2f and %.2f) age_s=%r" % (st, t_begin, t_end, age))
        return f

    for t, owner in local:
        fam, pn, src, dst, sport, dport = t.orig()
        f = one(t.tag, L.find_flow(res.flows, fam, pn, src, dst, sport, dport), t.proto)
        if f is None:
            continue
        hdr = 20 if fam == "ipv4" else 40
        okc = (f.get("orig_bytes") or 0) >= t.send + hdr and \
            (f.get("reply_bytes") or 0) >= t.reply + hdr and \
            (f.get("orig_packets") or 0) >= 1 and (f.get("reply_packets") or 0) >= 1
        rep.check(t.tag + "-counters", okc,
                  "orig %r pkts/%r B, reply %r pkts/%r B; sent %d B payload, got %d" % (
                      f.get("orig_packets"), f.get("orig_bytes"), f.get("reply_packets"),
                      f.get("reply_bytes"), t.send, t.reply))
        if t.proto == "tcp":
            rep.check(t.tag + "-state", f.get("state") == "ESTABLISHED",
                      "state=%r" % f.get("state"))
        else:
            rep.check(t.tag + "-state-null", f.get("state") is None, "state=%r" % f.get("state"))
        proc = t.client if owner == "client" else t.server
        comm = t.client_comm if owner == "client" else t.server_comm
        got = (f.get("pid"), f.get("comm"), f.get("attr"), f.get("uid"))
        # these flows are older than flowtop: even in ebpf mode they come from sock_diag
        want = (proc.pid, comm, "sockdiag", 0)
        rep.check(t.tag + "-process", got == want,
                  "pid/comm/attr/uid flowtop=%r, expected %r (%s; client pid %d, server pid %d)" % (
                      got, want, owner, t.client.pid, t.server.pid))
        exe = f.get("exe")
        real = os.path.realpath("/proc/%d/exe" % proc.pid)
        rep.check(t.tag + "-exe", exe is None or os.path.realpath(exe) == real,
                  "exe=%r, /proc/%d/exe -> %s" % (exe, proc.pid, real))
        if t.stream:
            r = f.get("rate_orig_Bps")
            rep.check(t.tag + "-rate", isinstance(r, (int, float)) and 20000 <= r <= 2000000,
                      "rate_orig_Bps=%r while the client sent ~200000 B/s" % r)
        else:
            r1, r2 = f.get("rate_orig_Bps"), f.get("rate_reply_Bps")
            rep.check(t.tag + "-rate-idle", r1 in (0, 0.0) and r2 in (0, 0.0),
                      "idle flow measured rate_orig_Bps=%r rate_reply_Bps=%r (expected 0)" % (
                          r1, r2))

    for fam, addr, ident in pings:
        src = "127.0.0.1" if addr == "127.0.0.1" else "::1" if addr == "::1" else \
            ("10.201.1.1" if fam == "ipv4" else "fd00:201::1")
        pname = "icmp" if fam == "ipv4" else "icmpv6"
        name = "%s-%s" % (pname, addr)
        f = one(name, L.find_flow(res.flows, fam, pname, src, addr, icmp_id=ident), pname)
        if f is None:
            continue
        want_type = 8 if fam == "ipv4" else 128
        ok = (f.get("sport") is None and f.get("dport") is None and f.get("icmp_type") == want_type
              and f.get("icmp_code") == 0 and f.get("icmp_id") == ident and f.get("state") is None
              and (f.get("orig_packets") or 0) >= 1 and (f.get("reply_packets") or 0) >= 1)
        rep.check(name + "-fields", ok, "sport=%r dport=%r icmp_type=%r code=%r id=%r state=%r "
                  "packets=%r/%r (expected type %d id %d)" % (
                      f.get("sport"), f.get("dport"), f.get("icmp_type"), f.get("icmp_code"),
                      f.get("icmp_id"), f.get("state"), f.get("orig_packets"),
                      f.get("reply_packets"), want_type, ident))

    m = L.find_flow(res.flows, "ipv4", "sctp", "127.0.0.1", "127.0.0.1", None, 5010)
    f = one("sctp", m, "sctp")
    if f is not None:
        rep.check("sctp-state", f.get("state") == "ESTABLISHED", "state=%r" % f.get("state"))
    if sctp_how == "raw":
        rep.skip("sctp-process", "kernel has no SCTP sockets (CONFIG_IP_SCTP off): SCTP flow made "
                 "from raw packets, no socket owns it")
    elif f is not None:
        got = (f.get("pid"), f.get("comm"))
        rep.check("sctp-process", got == (sctp.client.pid, sctp.client_comm),
                  "pid/comm %r, expected %r" % (got, (sctp.client.pid, sctp.client_comm)))


try:
    main()
except Exception as e:
    import traceback
    rep.fail("error", "%s: %s" % (type(e).__name__, L.one_line(traceback.format_exc()[-600:])))
rep.finish()
