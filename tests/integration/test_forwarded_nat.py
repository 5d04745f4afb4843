#!/usr/bin/env python3
"""A router namespace forwards client -> server traffic and masquerades it:
flowtop --netns ROUTER shows the forwarded flows with the NAT visible in the
reply tuple, status "src_nat", and no process (neither end is local)."""
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib as L  # noqa: E402

rep, FT = L.start("forwarded_nat")


def masquerade(r, out_if):
    """MASQUERADE on out_if in namespace r, with iptables or else nft."""
    if L.have("iptables") and L.have("ip6tables"):
        a = r.run(["iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-o", out_if,
                   "-j", "MASQUERADE"])
        b = r.run(["ip6tables", "-w", "-t", "nat", "-A", "POSTROUTING", "-o", out_if,
                   "-j", "MASQUERADE"])
        if a.returncode == 0 and b.returncode == 0:
            return "iptables"
    rr = r.run(["nft", "-f", "-"], input=(
        "add table inet ftnat\n"
        "add chain inet ftnat post { type nat hook postrouting priority 100; }\n"
        "add rule inet ftnat post oifname \"%s\" masquerade\n" % out_if))
    if rr.returncode != 0:
        raise RuntimeError("cannot set up MASQUERADE: %s" % L.one_line(rr.stderr))
    return "nft"


def main():
    c = L.Netns("natc", track=False)
    r = L.Netns("natr", track=False)
    s = L.Netns("nats", track=False)
    c_if, r_in = L.veth(c, r, ["10.61.1.2/24", "fd00:61:1::2/64"],
                        ["10.61.1.1/24", "fd00:61:1::1/64"])
    r_out, s_if = L.veth(r, s, ["10.61.2.1/24", "fd00:61:2::1/64"],
                         ["10.61.2.2/24", "fd00:61:2::2/64"])
    c.ip("route", "add", "default", "via", "10.61.1.1")
    c.ip("-6", "route", "add", "default", "via", "fd00:61:1::1")
    r.set_sysctl("net.ipv4.ip_forward", 1)
    r.set_sysctl("net.ipv6.conf.all.forwarding", 1)
    how = masquerade(r, r_out)
    rep.note("router masquerades with %s" % how)
    r.set_sysctl("net.netfilter.nf_conntrack_acct", 1)
    r.set_sysctl("net.netfilter.nf_conntrack_timestamp", 1)

    T = L.Traffic
    ts = [T("tcp", c, s, "10.61.2.2", 8001, send=1200, reply=3400, tag="fwd-tcp4"),
          T("udp", c, s, "10.61.2.2", 8002, send=300, reply=600, tag="fwd-udp4"),
          T("tcp", c, s, "fd00:61:2::2", 8003, send=800, reply=900, tag="fwd-tcp6")]
    for t in ts:
        t.start()
    L.ping(c, "10.61.2.2", 0x6161)

    ct = L.ct_list(r)
    res = L.flowtop(FT, ["--netns", r.name, "--json", "--once", "-t", "0.3"])
    if not rep.check("exit-0", res.rc == 0 and res.summary is not None and not res.bad,
                     res.brief()):
        return
    outside = {"ipv4": "10.61.2.1", "ipv6": "fd00:61:2::1"}
    checks = [(t.tag, t.family, t.proto, t.src, t.addr, t.sport, t.port, None) for t in ts]
    checks.append(("fwd-icmp4", "ipv4", "icmp", "10.61.1.2", "10.61.2.2", None, None, 0x6161))
    for tag, fam, proto, src, dst, sport, dport, ident in checks:
        m = L.find_flow(res.flows, fam, proto, src, dst, sport, dport, icmp_id=ident)
        if not rep.check(tag + "-present", len(m) == 1,
                         "%d flowtop flows with orig %s %s %s:%s -> %s:%s (router table has "
                         "%d entries)" % (len(m), fam, proto, src, sport, dst, dport, len(ct))):
            continue
        f = m[0]
        cm = L.find_flow(ct.values(), fam, proto, src, dst, sport, dport, icmp_id=ident)
        if cm:
            d = L.tuple_diffs(f, cm[0])
            rep.check(tag + "-tuples-as-conntrack", not d and f.get("id") == cm[0]["id"],
                      "; ".join(d) or "id %r vs %r" % (f.get("id"), cm[0]["id"]))
        rep.check(tag + "-reply-natted",
                  L.norm_addr(f.get("reply_src")) == L.norm_addr(dst) and
                  L.norm_addr(f.get("reply_dst")) == L.norm_addr(outside[fam]),
                  "reply_src=%r reply_dst=%r, expected %s and the router's outside address %s" % (
                      f.get("reply_src"), f.get("reply_dst"), dst, outside[fam]))
        st = f.get("status") or []
        rep.check(tag + "-status-src_nat", "src_nat" in st and "dst_nat" not in st,
                  "status=%r" % st)
        got = (f.get("pid"), f.get("comm"), f.get("attr"))
        rep.check(tag + "-no-process", got == (None, None, None),
                  "pid/comm/attr=%r for a forwarded flow (no local end)" % (got,))
        rep.check(tag + "-counters", (f.get("orig_packets") or 0) >= 1 and
                  (f.get("reply_packets") or 0) >= 1,
                  "packets orig %r reply %r" % (f.get("orig_packets"), f.get("reply_packets")))
    for t in ts:
        t.release()


try:
    main()
except Exception as e:
    import traceback
    rep.fail("error", "%s: %s" % (type(e).__name__, L.one_line(traceback.format_exc()[-600:])))
rep.finish()
