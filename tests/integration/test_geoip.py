#!/usr/bin/env python3
"""GeoIP in --json output: flows between two namespaces whose addresses are in MaxMind's
test databases (../shared/testdata/geoip) carry the right country, city and ASN; private
addresses are labelled, not looked up; a corrupt database gives one clear line."""
import json
import os
import subprocess
import sys
import time

FT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/flowtop")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "testdata", "geoip"))
A, B = "ft-geo-a-%d" % os.getpid(), "ft-geo-b-%d" % os.getpid()
fails = 0


def out(kind, name, why=""):
    global fails
    fails += kind == "FAIL"
    print("%s geoip.%s%s" % (kind, name, (": " + why) if why else ""), flush=True)


def check(name, ok, why):
    out("PASS" if ok else "FAIL", name, "" if ok else why)


def sh(*cmd, **kw):
    return subprocess.run(cmd, text=True, capture_output=True, timeout=30, **kw)


def main():
    if os.geteuid() != 0:
        return out("SKIP", "all", "needs root (network namespaces)")
    if not os.path.isdir(DATA):
        return out("SKIP", "all", "no test databases at %s" % DATA)
    city = os.path.join(DATA, "GeoIP2-City-Test.mmdb")
    asn = os.path.join(DATA, "GeoLite2-ASN-Test.mmdb")
    # 81.2.69.142 is London, GB in the City test database; 1.128.0.1 is AS1221 in the ASN one
    for n in (A, B):
        sh("ip", "netns", "add", n)
        sh("ip", "-n", n, "link", "set", "lo", "up")
    sh("ip", "link", "add", "ga", "netns", A, "type", "veth", "peer", "name", "gb", "netns", B)
    sh("ip", "-n", A, "addr", "add", "81.2.69.142/32", "dev", "ga")
    sh("ip", "-n", B, "addr", "add", "1.128.0.1/32", "dev", "gb")
    # 214.78.120.1 is in the United States in the City test database
    sh("ip", "-n", B, "addr", "add", "214.78.120.1/32", "dev", "gb")
    sh("ip", "-n", A, "link", "set", "ga", "up")
    sh("ip", "-n", B, "link", "set", "gb", "up")
    sh("ip", "-n", A, "route", "add", "1.128.0.1/32", "dev", "ga")
    sh("ip", "-n", A, "route", "add", "214.78.120.1/32", "dev", "ga")
    sh("ip", "-n", B, "route", "add", "81.2.69.142/32", "dev", "gb")
    sh("ip", "netns", "exec", A, "iptables", "-I", "OUTPUT", "-m", "conntrack", "--ctstate",
       "NEW", "-j", "ACCEPT")
    code = ("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "s.sendto(b'x',('1.128.0.1',5000))\ns.sendto(b'x',('127.0.0.1',5001))\n"
            "s.sendto(b'x',('214.78.120.1',5002))\ns.sendto(b'x',('214.78.120.1',5003))\n"
            "time.sleep(4)\n")
    p = subprocess.Popen(["ip", "netns", "exec", A, "python3", "-c", code])
    try:
        time.sleep(0.5)
        r = sh(FT, "--netns", A, "--json", "--once", "-t", "0.2", "--geoip-db", city,
               "--geoip-db", asn)
        objs = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
        flows = [o for o in objs if o.get("type") == "flow"]
        summ = objs[-1] if objs else {}
        check("exit-0", r.returncode == 0 and not r.stderr, "rc %d stderr %r" % (
            r.returncode, r.stderr[:200]))
        check("summary-geoip", summ.get("geoip") is True, "summary %r" % summ)
        # where the data goes: the destinations by country and by AS
        dests = [o for o in objs if o.get("type") == "destination"]
        byc = {d["key"]: d for d in dests if d.get("by") == "country"}
        bya = {d["key"]: d for d in dests if d.get("by") == "asn"}
        us, tel = byc.get("US", {}), bya.get("AS1221", {})
        check("dest-country", us.get("name") == "United States" and us.get("flows") == 2 and
              (us.get("top") or [{}])[0].get("comm") == "python3" and
              byc.get("loopback", {}).get("flows") == 1,
              "by country %r" % byc)
        check("dest-asn", "Telstra" in (tel.get("name") or "") and tel.get("flows") == 1,
              "by asn %r" % bya)
        rb = sh(FT, "--netns", A, "--batch", "--iterations", "1", "-t", "0.2", "--geoip-db",
                city, "--geoip-db", asn)
        check("dest-batch", any(l.split()[:3] == ["US", "United", "States"] for l in
                                rb.stdout.splitlines()) and
              any(l.startswith("AS1221 ") and "Telstra" in l for l in rb.stdout.splitlines()),
              "batch output %r" % rb.stdout[-600:])
        # the view: a WHERE column (remote country/city) and the Destinations tab, in tmux
        sock = "ft-geo-%d" % os.getpid()
        tm = lambda *a: sh("tmux", "-L", sock, *a)  # noqa: E731
        tm("-f", "/dev/null", "new-session", "-d", "-x", "140", "-y", "20",
           "%s --netns %s -t 0.3 --geoip-db %s --geoip-db %s" % (FT, A, city, asn))
        try:
            def screen():
                return tm("capture-pane", "-p").stdout
            end = time.time() + 8
            while time.time() < end and not ("WHERE" in screen() and " US " in screen()):
                time.sleep(0.2)
            scr = screen()
            rows = [l for l in scr.splitlines() if "214.78.120.1" in l]
            check("view-where", "WHERE" in scr and rows and all(" US " in l for l in rows) and
                  any("loopback" in l for l in scr.splitlines() if "127.0.0.1" in l),
                  "screen %r" % scr[:900])
            for _ in range(3):
                tm("send-keys", "Tab")
            end = time.time() + 8
            while time.time() < end and "United States" not in screen():
                time.sleep(0.2)
            scr = screen()
            check("view-destinations", "[Destinations]" in scr and any(
                l.split()[:3] == ["US", "United", "States"] for l in scr.splitlines()),
                "screen %r" % scr[:900])
        finally:
            tm("send-keys", "q")
            time.sleep(0.3)
            tm("kill-server")
        pub = [f for f in flows if f.get("dst") == "1.128.0.1"]
        loc = [f for f in flows if f.get("dst") == "127.0.0.1"]
        check("flow-found", len(pub) == 1 and len(loc) == 1, "flows %r" % flows)
        if pub:
            s, d = pub[0].get("src_geo") or {}, pub[0].get("dst_geo") or {}
            check("src-country-city", s.get("country") == "GB" and s.get("city") == "London",
                  "src_geo %r" % s)
            check("dst-asn", d.get("asn") == 1221 and "Telstra" in (d.get("org") or ""),
                  "dst_geo %r" % d)
        if loc:
            check("loopback-labelled", (loc[0].get("dst_geo") or {}).get("scope") == "loopback",
                  "dst_geo %r" % loc[0].get("dst_geo"))
        # -G: no lookups at all
        r = sh(FT, "--netns", A, "--json", "--once", "-t", "0.2", "-G", "--geoip-db", city)
        fl = [json.loads(x) for x in r.stdout.splitlines() if '"flow"' in x]
        check("no-geoip-flag", fl and all(f.get("src_geo") is None for f in fl),
              "with -G: %r" % [f.get("src_geo") for f in fl])
        # corrupt and missing databases: one clear line each, flows still reported
        bad = os.path.join(DATA, "GeoIP2-City-Test-Invalid-Node-Count.mmdb")
        r = sh(FT, "--netns", A, "--json", "--once", "-t", "0.2", "--geoip-db", bad)
        lines = [x for x in r.stderr.splitlines() if x]
        check("corrupt-db-one-line", r.returncode == 0 and any(bad in x for x in lines) and
              sum(bad in x for x in lines) == 1 and '"flow"' in r.stdout,
              "rc %d stderr %r" % (r.returncode, r.stderr[:300]))
        r = sh(FT, "--netns", A, "--json", "--once", "-t", "0.2")
        check("missing-db-quiet", r.returncode == 0 and not r.stderr and
              '"geoip":false' in r.stdout, "rc %d stderr %r" % (r.returncode, r.stderr[:200]))
    finally:
        p.kill()
        p.wait()
        for n in (A, B):
            sh("ip", "netns", "del", n)


try:
    main()
except Exception as e:  # one FAIL line, never a silent pass
    out("FAIL", "error", "%s: %s" % (type(e).__name__, e))
sys.exit(1 if fails else 0)
