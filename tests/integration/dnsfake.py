#!/usr/bin/env python3
"""dnsfake - a tiny DNS server (and its clients) for flowtop's name tests; python3 stdlib only.

    dnsfake.py serve [--listen ADDR]... [--port 53] [--udp] [--tcp] [--silent] [--ttl N]
                     [--a NAME=ADDR[@TTL]]... [--aaaa NAME=ADDR[@TTL]]...
                     [--ptr ADDR=NAME[@TTL]]... [--cname NAME=TARGET[@TTL]]...
                     [--evil-ptr ADDR]... [--evil-a ADDR]... [--fail ADDR|NAME]...
                     [--log FILE] [--max-time S]

  Answers queries (class IN, one question) over UDP and/or TCP (2-byte length prefix, several
  queries per connection) from its table: A, AAAA, PTR (given by address; the reverse name is
  made from it), CNAME (followed to the target's A/AAAA records in the same answer). A name
  in the table without a record of the asked type gets NOERROR and no answer; any other name
  NXDOMAIN. Responses echo the id, set QR, AA and RA, copy RD and the question verbatim and
  point every answer's owner at the question's name (compression pointer 0xc00c).
  Names are in presentation form: \\DDD (decimal) and \\X escapes put any byte into a label,
  "\\." a dot inside a label. --evil-ptr ADDR answers the PTR of ADDR with EVIL_PTR, --evil-a
  ADDR answers A (or AAAA for an IPv6 ADDR) of EVIL_QNAME with ADDR: labels carrying ESC [ 3 1 m,
  BEL, 0xff 0xfe (not UTF-8), a dot inside a label and upper case letters.
  --fail answers SERVFAIL for the PTR of ADDR (or any query for NAME).
  --silent reads every query (UDP and TCP) and never answers. Without --udp/--tcp both are
  served; default --listen 127.0.0.1, --port 53, --ttl 60. Prints "READY" once every socket
  is bound; one line per query goes to --log ("TIME PROTO PEER QTYPE QNAME ANSWERED|SILENT").
  Ends on SIGTERM/SIGINT or after --max-time seconds (default 600).

    dnsfake.py client (--gai NAME | --query NAME | --evil-qname | --addr ADDR)
                      [--family 4|6] [--type A|AAAA] [--server ADDR] [--server-port 53]
                      [--tcp | --unconnected]
                      [--connect PORT] [--proto tcp|udp] [--bind ADDR] [--hold S] [--comm NAME]

  Resolves a name (getaddrinfo, or its own query over UDP/TCP to --server; --unconnected: from
  a UDP socket neither bound nor connected, with sendto and recvfrom) or takes an
  address, connects to the first answer and sends a few bytes, prints one JSON line
  {"ok":..,"answers":[..],"dst":..,"src":..,"sport":..}, then keeps the socket open for --hold
  seconds (default 0) or until stdin closes, prints "CLOSED" and exits.

    dnsfake.py sink [--listen ADDR]... [--port 8080] [--max-time S]

  Accepts TCP connections and reads UDP datagrams on the port (default on 0.0.0.0 and ::),
  discards what it reads; prints "READY".

    dnsfake.py spray --count N [--net 10.78] [--port 9] [--bind ADDR] [--hold S] [--every S]

  One UDP datagram from one socket to each of N distinct addresses NET.(i/250).(i%250+1),
  resent every --every seconds (default 5) while --hold lasts (default 0); prints
  "DONE N" after the first round.
"""

import ipaddress
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import time

T_A, T_NS, T_CNAME, T_SOA, T_PTR, T_AAAA, T_ANY = 1, 2, 5, 6, 12, 28, 255
C_IN = 1
TYPE_NAMES = {T_A: "A", T_NS: "NS", T_CNAME: "CNAME", T_SOA: "SOA", T_PTR: "PTR",
              T_AAAA: "AAAA", T_ANY: "ANY"}
TYPE_NUMS = {v: k for k, v in TYPE_NAMES.items()}
RC_NOERROR, RC_FORMERR, RC_SERVFAIL, RC_NXDOMAIN, RC_NOTIMP = 0, 1, 2, 3, 4

# the evil names (labels as bytes): ESC [ 3 1 m, BEL, 0xff 0xfe, a dot inside a label,
# upper case (which must come out lower-cased)
EVIL_PTR = [b"\x1b[31mRed", b"bel\x07", b"\xff\xfeutf", b"dot.inside", b"Evil", b"test"]
EVIL_QNAME = [b"Q\x1b[31mX", b"\x07bel", b"\xff\xfe", b"a.b", b"Evil", b"test"]
MAX_CONNS = 64
MAX_CHAIN = 8


def sanitize(labels):
    """How flowtop must show a name: lower case, every label byte outside [a-z0-9-_] as '?'."""
    out = []
    for lab in labels:
        s = ""
        for b in lab.lower():
            c = chr(b)
            s += c if (c.isascii() and (c.isdigit() or "a" <= c <= "z" or c in "-_")) else "?"
        out.append(s)
    return ".".join(out)


EVIL_PTR_SHOWN = sanitize(EVIL_PTR)        # "??31mred.bel?.??utf.dot?inside.evil.test"
EVIL_QNAME_SHOWN = sanitize(EVIL_QNAME)    # "q??31mx.?bel.??.a?b.evil.test"


# --------------------------------------------------------------------------
# names

def parse_name(text):
    """Presentation form ("a\\.b.c", "\\027x") -> list of labels (bytes). "." or "" is the root."""
    labels, cur, i = [], bytearray(), 0
    if text in ("", "."):
        return []
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            if text[i + 1:i + 4].isdigit() and len(text[i + 1:i + 4]) == 3:
                v = int(text[i + 1:i + 4])
                if v > 255:
                    raise ValueError("bad escape in %r" % text)
                cur.append(v)
                i += 4
                continue
            cur += text[i + 1].encode()
            i += 2
            continue
        if c == ".":
            if not cur:
                raise ValueError("empty label in %r" % text)
            labels.append(bytes(cur))
            cur = bytearray()
            i += 1
            continue
        cur += c.encode()
        i += 1
    if cur:
        labels.append(bytes(cur))
    for lab in labels:
        if len(lab) > 63:
            raise ValueError("label longer than 63 bytes in %r" % text)
    return labels


def name_text(labels):
    """Labels -> presentation form, printable ASCII only (\\DDD for anything else)."""
    out = []
    for lab in labels:
        s = ""
        for b in lab:
            c = chr(b)
            if c in ".\\":
                s += "\\" + c
            elif 0x21 <= b < 0x7f:
                s += c
            else:
                s += "\\%03d" % b
        out.append(s)
    return ".".join(out) + "." if out else "."


def key_of(labels):
    return tuple(lab.lower() for lab in labels)


def encode_name(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\0"


def read_name(msg, off):
    """(labels, offset after the name); follows compression pointers backwards only."""
    labels, end, lowest, hops = [], None, off, 0
    while True:
        if off >= len(msg):
            raise ValueError("name runs past the message")
        n = msg[off]
        if n & 0xc0 == 0xc0:
            if off + 1 >= len(msg):
                raise ValueError("truncated pointer")
            to = (n & 0x3f) << 8 | msg[off + 1]
            if end is None:
                end = off + 2
            if to >= lowest:
                raise ValueError("forward or looping pointer")
            lowest = off = to
            hops += 1
            if hops > 64:
                raise ValueError("too many pointers")
            continue
        if n & 0xc0:
            raise ValueError("bad label type")
        if n == 0:
            return labels, (end if end is not None else off + 1)
        if off + 1 + n > len(msg):
            raise ValueError("label runs past the message")
        labels.append(bytes(msg[off + 1:off + 1 + n]))
        off += 1 + n


def reverse_name(addr):
    """Address text -> reverse lookup labels (in-addr.arpa / ip6.arpa)."""
    return parse_name(ipaddress.ip_address(addr).reverse_pointer)


# --------------------------------------------------------------------------
# messages

def build_query(qid, labels, qtype, rd=True):
    return (struct.pack("!HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0) +
            encode_name(labels) + struct.pack("!HH", qtype, C_IN))


def parse_message(msg):
    """A message as a dict: id, flags, qr, rcode, questions [(labels, type, class)],
    answers [{"name", "type", "class", "ttl", "data"}] (data: address text, target labels
    or raw bytes). Raises ValueError on a malformed message."""
    if len(msg) < 12:
        raise ValueError("shorter than a header")
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    qs = []
    for _ in range(qd):
        labels, off = read_name(msg, off)
        if off + 4 > len(msg):
            raise ValueError("truncated question")
        t, c = struct.unpack("!HH", msg[off:off + 4])
        off += 4
        qs.append((labels, t, c))
    ans = []
    for _ in range(an):
        labels, off = read_name(msg, off)
        if off + 10 > len(msg):
            raise ValueError("truncated record")
        t, c, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if off + rdlen > len(msg):
            raise ValueError("record data runs past the message")
        rd = msg[off:off + rdlen]
        if t == T_A and rdlen == 4:
            data = socket.inet_ntop(socket.AF_INET, rd)
        elif t == T_AAAA and rdlen == 16:
            data = socket.inet_ntop(socket.AF_INET6, rd)
        elif t in (T_CNAME, T_PTR, T_NS):
            data, end = read_name(msg, off)
            if end != off + rdlen:
                raise ValueError("name in record data has the wrong length")
        else:
            data = bytes(rd)
        off += rdlen
        ans.append({"name": labels, "type": t, "class": c, "ttl": ttl, "data": data})
    return {"id": qid, "flags": flags, "qr": bool(flags & 0x8000), "opcode": (flags >> 11) & 0xf,
            "aa": bool(flags & 0x0400), "tc": bool(flags & 0x0200), "rd": bool(flags & 0x0100),
            "ra": bool(flags & 0x0080), "rcode": flags & 0xf, "questions": qs, "answers": ans,
            "counts": (qd, an, ns, ar), "end": off}


class Table:
    """name key -> {type: [(rdata bytes or labels, ttl)]}; CNAMEs separately."""

    def __init__(self, ttl=60):
        self.ttl = ttl
        self.recs = {}
        self.cnames = {}
        self.failing = set()

    def _split(self, spec):
        if "=" not in spec:
            raise ValueError("want NAME=VALUE[@TTL]: %r" % spec)
        k, v = spec.split("=", 1)
        ttl = self.ttl
        if "@" in v:
            v, t = v.rsplit("@", 1)
            ttl = int(t)
        return k, v, ttl

    def add(self, labels, rtype, data, ttl=None):
        self.recs.setdefault(key_of(labels), {}).setdefault(rtype, []).append(
            (data, self.ttl if ttl is None else ttl))

    def add_addr(self, spec, want_v6):
        k, v, ttl = self._split(spec)
        ip = ipaddress.ip_address(v)
        if (ip.version == 6) != want_v6:
            raise ValueError("%s: not an IPv%d address" % (v, 6 if want_v6 else 4))
        self.add(parse_name(k), T_AAAA if want_v6 else T_A, ip.packed, ttl)

    def add_ptr(self, spec):
        k, v, ttl = self._split(spec)
        self.add(reverse_name(k), T_PTR, parse_name(v), ttl)

    def add_cname(self, spec):
        k, v, ttl = self._split(spec)
        self.cnames[key_of(parse_name(k))] = (parse_name(v), ttl)

    def add_fail(self, what):
        """SERVFAIL for the PTR of an address, or for every query of a name."""
        try:
            self.failing.add(key_of(reverse_name(what)))
        except ValueError:
            self.failing.add(key_of(parse_name(what)))

    def known(self, key):
        return key in self.recs or key in self.cnames

    def answer(self, labels, qtype):
        """(rcode, [(owner labels or None for the question's name, type, ttl, data)])."""
        out = []
        key = key_of(labels)
        if key in self.failing:
            return RC_SERVFAIL, []
        if not self.known(key):
            return RC_NXDOMAIN, []
        owner = None
        for _ in range(MAX_CHAIN):
            if key in self.cnames and qtype != T_CNAME:
                target, ttl = self.cnames[key]
                out.append((owner, T_CNAME, ttl, target))
                owner = target
                key = key_of(target)
                continue
            for data, ttl in self.recs.get(key, {}).get(qtype, []):
                out.append((owner, qtype, ttl, data))
            break
        return RC_NOERROR, out


def build_response(query, table):
    """The answer to one query message (bytes), or None when it is not worth one."""
    try:
        if len(query) < 12:
            return None
        qid, flags, qd = struct.unpack("!HHH", query[:6])
        if flags & 0x8000:
            return None                         # a response, not a query
        opcode = (flags >> 11) & 0xf
        rflags = 0x8000 | (opcode << 11) | 0x0400 | (flags & 0x0100) | 0x0080
        if opcode != 0:
            return struct.pack("!HHHHHH", qid, rflags | RC_NOTIMP, 0, 0, 0, 0)
        if qd != 1:
            return struct.pack("!HHHHHH", qid, rflags | RC_FORMERR, 0, 0, 0, 0)
        labels, off = read_name(query, 12)
        if off + 4 > len(query):
            raise ValueError("truncated question")
        qtype, qclass = struct.unpack("!HH", query[off:off + 4])
        question = query[12:off + 4]            # copied verbatim, case and all
    except ValueError:
        return struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0],
                           0x8000 | 0x0080 | RC_FORMERR, 0, 0, 0, 0)
    if qclass != C_IN:
        rcode, recs = RC_NOTIMP, []
    else:
        rcode, recs = table.answer(labels, qtype)
    body = bytearray(question)
    names = {key_of(labels): 12}                # where each full name already is
    for owner, rtype, ttl, data in recs:
        if owner is None:
            body += b"\xc0\x0c"
        else:
            body += _name_ref(owner, names, 12 + len(body))
        if rtype in (T_CNAME, T_PTR):
            start = 12 + len(body) + 10
            rd = _name_ref(data, names, start)
        else:
            rd = data
        body += struct.pack("!HHIH", rtype, C_IN, ttl, len(rd)) + rd
    hdr = struct.pack("!HHHHHH", qid, rflags | rcode, 1, len(recs), 0, 0)
    return hdr + bytes(body)


def _name_ref(labels, names, at):
    """A pointer to labels when the message has them already, else the labels in full
    (remembered at offset `at` for later records)."""
    k = key_of(labels)
    if k in names:
        return struct.pack("!H", 0xc000 | names[k])
    names[k] = at
    return encode_name(labels)


# --------------------------------------------------------------------------
# serve

class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None

    def query(self, proto, peer, msg, answered):
        if not self.f:
            return
        try:
            m = parse_message(msg)
            q = m["questions"][0] if m["questions"] else ([], 0, 0)
            what = "%s %s" % (TYPE_NAMES.get(q[1], str(q[1])), name_text(q[0]))
        except ValueError as e:
            what = "BAD %s" % str(e).replace(" ", "_")
        self.f.write("%.3f %s %s %s %s\n" % (time.time(), proto, peer, what,
                                             "ANSWERED" if answered else "SILENT"))


def _opts(argv, spec):
    """Tiny option parser: spec {name: kind} kind in ('flag', 'one', 'many')."""
    out = {k: ([] if v == "many" else (False if v == "flag" else None)) for k, v in spec.items()}
    i = 0
    while i < len(argv):
        a = argv[i]
        val = None
        if a.startswith("--") and "=" in a and a.split("=", 1)[0] in spec and \
                spec[a.split("=", 1)[0]] != "flag":
            a, val = a.split("=", 1)
        if a not in spec:
            raise SystemExit("dnsfake: unknown argument %r" % a)
        kind = spec[a]
        if kind == "flag":
            out[a] = True
            i += 1
            continue
        if val is None:
            if i + 1 >= len(argv):
                raise SystemExit("dnsfake: %s needs a value" % a)
            val = argv[i + 1]
            i += 1
        i += 1
        if kind == "many":
            out[a].append(val)
        else:
            out[a] = val
    return out


_stop = [False]


def _on_term(signum, frame):
    _stop[0] = True


def serve(argv):
    o = _opts(argv, {"--listen": "many", "--port": "one", "--udp": "flag", "--tcp": "flag",
                     "--silent": "flag", "--ttl": "one", "--a": "many", "--aaaa": "many",
                     "--ptr": "many", "--cname": "many", "--evil-ptr": "many",
                     "--evil-a": "many", "--fail": "many", "--log": "one",
                     "--max-time": "one"})
    table = Table(int(o["--ttl"] or 60))
    for s in o["--a"]:
        table.add_addr(s, False)
    for s in o["--aaaa"]:
        table.add_addr(s, True)
    for s in o["--ptr"]:
        table.add_ptr(s)
    for s in o["--cname"]:
        table.add_cname(s)
    for a in o["--fail"]:
        table.add_fail(a)
    for a in o["--evil-ptr"]:
        table.add(reverse_name(a), T_PTR, EVIL_PTR)
    for a in o["--evil-a"]:
        ip = ipaddress.ip_address(a)
        table.add(EVIL_QNAME, T_AAAA if ip.version == 6 else T_A, ip.packed)
    udp = o["--udp"] or not o["--tcp"]
    tcp = o["--tcp"] or not o["--udp"]
    port = int(o["--port"] or 53)
    silent = o["--silent"]
    log = Log(o["--log"])
    end = time.monotonic() + float(o["--max-time"] or 600)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)

    udps, lsns = [], []
    for addr in o["--listen"] or ["127.0.0.1"]:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        if udp:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            udps.append(s)
        if tcp:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.listen(16)
            lsns.append(s)
    print("READY", flush=True)
    conns = {}                                  # sock -> [buffer, peer, last activity]
    while not _stop[0] and time.monotonic() < end:
        rl = udps + lsns + list(conns)
        try:
            r, _, _ = select.select(rl, [], [], min(1.0, max(end - time.monotonic(), 0)))
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in r:
            if s in udps:
                try:
                    msg, peer = s.recvfrom(65535)
                except OSError:
                    continue
                resp = None if silent else build_response(msg, table)
                log.query("udp", "%s:%d" % peer[:2], msg, resp is not None)
                if resp is not None:
                    try:
                        s.sendto(resp, peer)
                    except OSError:
                        pass
            elif s in lsns:
                try:
                    c, peer = s.accept()
                except OSError:
                    continue
                if len(conns) >= MAX_CONNS:
                    c.close()
                    continue
                conns[c] = [b"", "%s:%d" % peer[:2], now]
            else:
                try:
                    data = s.recv(65535)
                except OSError:
                    data = b""
                if not data:
                    s.close()
                    del conns[s]
                    continue
                st = conns[s]
                st[0] += data
                st[2] = now
                for _ in range(64):
                    if len(st[0]) < 2:
                        break
                    n = struct.unpack("!H", st[0][:2])[0]
                    if len(st[0]) < 2 + n:
                        break
                    msg, st[0] = st[0][2:2 + n], st[0][2 + n:]
                    resp = None if silent else build_response(msg, table)
                    log.query("tcp", st[1], msg, resp is not None)
                    if resp is not None:
                        try:
                            s.sendall(struct.pack("!H", len(resp)) + resp)
                        except OSError:
                            break
        for c in [c for c, st in conns.items() if now - st[2] > 30]:
            c.close()
            del conns[c]
    for s in udps + lsns + list(conns):
        s.close()
    return 0


# --------------------------------------------------------------------------
# clients

def query(server, labels, qtype, tcp=False, port=53, timeout=3.0, qid=None, connected=True):
    """Send one query, return (parsed response, raw bytes). Raises on timeout or garbage.
    connected=False: a UDP socket that is neither bound nor connected (sendto, recvfrom)."""
    qid = qid if qid is not None else (os.getpid() * 7 + int(time.monotonic() * 1000)) & 0xffff
    q = build_query(qid, labels, qtype)
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    deadline = time.monotonic() + timeout
    if tcp:
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect((server, port))
            s.sendall(struct.pack("!H", len(q)) + q)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no TCP answer from %s" % server)
                s.settimeout(left)
                chunk = s.recv(65535)
                if not chunk:
                    raise ConnectionError("%s closed the connection" % server)
                buf += chunk
            raw = buf[2:2 + struct.unpack("!H", buf[:2])[0]]
        finally:
            s.close()
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            if connected:
                s.connect((server, port))
                s.send(q)
            else:
                s.sendto(q, (server, port))
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no UDP answer from %s" % server)
                s.settimeout(left)
                raw, peer = s.recvfrom(65535)
                if peer[1] != port:
                    continue
                if len(raw) >= 2 and struct.unpack("!H", raw[:2])[0] == qid:
                    break
        finally:
            s.close()
    m = parse_message(raw)
    if m["id"] != qid:
        raise ValueError("answer id %d, query id %d" % (m["id"], qid))
    return m, raw


def addresses(m, qtype):
    return [a["data"] for a in m["answers"] if a["type"] == qtype and isinstance(a["data"], str)]


def set_comm(name):
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(15, name.encode()[:15], 0, 0, 0)
    except Exception:
        pass


def _wait_stdin(seconds):
    """Sleep up to seconds; when stdin is a pipe, end early (True) once it closes, so a
    parent that goes away or releases us ends the wait. Other stdins (/dev/null, a tty)
    are not watched."""
    end = time.monotonic() + seconds
    try:
        watch = stat.S_ISFIFO(os.fstat(0).st_mode)
    except OSError:
        watch = False
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        if not watch:
            time.sleep(left)
            return False
        r, _, _ = select.select([0], [], [], left)
        if r:
            try:
                if not os.read(0, 4096):
                    return True
            except OSError:
                watch = False


def client(argv):
    o = _opts(argv, {"--gai": "one", "--query": "one", "--evil-qname": "flag", "--addr": "one",
                     "--family": "one", "--type": "one", "--server": "one",
                     "--server-port": "one", "--tcp": "flag", "--unconnected": "flag",
                     "--connect": "one",
                     "--proto": "one", "--bind": "one", "--hold": "one", "--comm": "one"})
    if o["--comm"]:
        set_comm(o["--comm"])
    fam6 = o["--family"] == "6"
    res = {"ok": False}
    try:
        if o["--gai"]:
            res["qname"] = o["--gai"]
            infos = socket.getaddrinfo(o["--gai"], None,
                                       socket.AF_INET6 if fam6 else socket.AF_INET,
                                       socket.SOCK_STREAM)
            res["answers"] = [i[4][0] for i in infos]
        elif o["--query"] or o["--evil-qname"]:
            labels = EVIL_QNAME if o["--evil-qname"] else parse_name(o["--query"])
            res["qname"] = name_text(labels)
            qtype = TYPE_NUMS[(o["--type"] or ("AAAA" if fam6 else "A")).upper()]
            m, _ = query(o["--server"] or "127.0.0.1", labels, qtype, tcp=o["--tcp"],
                         port=int(o["--server-port"] or 53), connected=not o["--unconnected"])
            res["rcode"] = m["rcode"]
            res["answers"] = addresses(m, qtype)
        elif o["--addr"]:
            res["answers"] = [o["--addr"]]
        else:
            raise ValueError("one of --gai, --query, --evil-qname, --addr is needed")
        if not res["answers"]:
            raise LookupError("no address in the answer")
        dst = res["answers"][0]
        res["dst"] = dst
        s = None
        if o["--connect"]:
            port = int(o["--connect"])
            fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
            udp = (o["--proto"] or "tcp") == "udp"
            s = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
            if o["--bind"]:
                s.bind((o["--bind"], 0))
            s.settimeout(5)
            s.connect((dst, port))
            s.send(b"hello")
            la = s.getsockname()
            res["src"], res["sport"] = la[0], la[1]
        res["ok"] = True
    except Exception as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
        print(json.dumps(res), flush=True)
        return 1
    print(json.dumps(res), flush=True)
    _wait_stdin(float(o["--hold"] or 0))
    if s is not None:
        s.close()
    print("CLOSED", flush=True)
    return 0


def sink(argv):
    o = _opts(argv, {"--listen": "many", "--port": "one", "--max-time": "one"})
    port = int(o["--port"] or 8080)
    end = time.monotonic() + float(o["--max-time"] or 600)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    lsns, udps = [], []
    wanted = o["--listen"] or ["0.0.0.0", "::"]
    for addr in wanted:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((addr, port))
            except OSError:
                s.close()
                if o["--listen"]:
                    raise       # an address asked for by name must work
                continue        # the default "::" without IPv6 in the namespace
            if kind == socket.SOCK_STREAM:
                s.listen(128)
                lsns.append(s)
            else:
                udps.append(s)
    print("READY", flush=True)
    conns = []
    while not _stop[0] and time.monotonic() < end:
        try:
            r, _, _ = select.select(lsns + udps + conns, [], [],
                                    min(1.0, max(end - time.monotonic(), 0)))
        except InterruptedError:
            continue
        for s in r:
            try:
                if s in lsns:
                    c, _ = s.accept()
                    if len(conns) < 1000:
                        conns.append(c)
                    else:
                        c.close()
                elif s in udps:
                    s.recvfrom(65535)
                elif not s.recv(65535):
                    s.close()
                    conns.remove(s)
            except OSError:
                if s in conns:
                    s.close()
                    conns.remove(s)
    return 0


def spray(argv):
    o = _opts(argv, {"--count": "one", "--net": "one", "--port": "one", "--bind": "one",
                     "--hold": "one", "--every": "one"})
    n = min(int(o["--count"] or 200), 250 * 250)
    net = o["--net"] or "10.78"
    port = int(o["--port"] or 9)
    every = max(float(o["--every"] or 5), 0.5)
    end = time.monotonic() + float(o["--hold"] or 0)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if o["--bind"]:
        s.bind((o["--bind"], 0))
    dsts = ["%s.%d.%d" % (net, i // 250, i % 250 + 1) for i in range(n)]
    rounds = 0
    while True:
        for d in dsts:
            try:
                s.sendto(b"x", (d, port))
            except OSError:
                pass
        rounds += 1
        if rounds == 1:
            print("DONE %d %d" % (n, s.getsockname()[1]), flush=True)
        left = end - time.monotonic()
        if left <= 0:
            break
        if _wait_stdin(min(every, left)) or time.monotonic() >= end:
            break
    s.close()
    return 0


COMMANDS = {"serve": serve, "client": client, "sink": sink, "spray": spray}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]) or 0)
