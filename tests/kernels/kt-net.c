/*
 * kt-net - traffic maker and checker for the kernel matrix (tests/kernels, tools/kernel-matrix).
 *
 * Runs inside the test VMs (no python there) and on the host; plain libc only.
 *
 *   kt-net serve tcp|udp ADDR PORT PIDFILE
 *       Serve echo on ADDR:PORT until killed; PIDFILE gets our pid once we listen.
 *   kt-net client TAG tcp|udp|icmp DST [PORT] [OWNER]
 *       Make one short flow to DST (TCP connect + echo, connected UDP + echo, ICMP echo
 *       from a raw socket with id = our pid) and print what flowtop should report:
 *       "EXPECT tag=T owner=PID proto=P family=F src=A sport=N dst=A dport=N"
 *       (owner is OWNER when given: the server of an inbound flow, 0 for nobody; for
 *       ICMP sport is the echo id). Exit 1 if no answer came.
 *   kt-net check ebpf|conntrack EXPECTFILE JSONFILE [quiet]
 *       Match every EXPECT line with the flow events of `flowtop --json --events`.
 *       ebpf: every event of the flow must name the owner with attr "ebpf" (owner 0: no
 *       pid). conntrack: the flow must be there (attribution counted, not required).
 *       Prints one line per flow and "RESULT right=N total=N found=N attributed=N";
 *       exits 0 when every flow is right.
 *   kt-net summary JSONFILE
 *       Print the summary line's mode, attr, names.asked, probes and mode_reason as
 *       "mode=.. attr=.. probes=.. reason=.." (reason last: it has spaces).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_MS 3000

static int die(const char *what)
{
	fprintf(stderr, "kt-net: %s: %s\n", what, strerror(errno));
	return 1;
}

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	fprintf(stderr, "kt-net: not an address: %s\n", s);
	return -1;
}

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t len, int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)len);
		*port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, buf, (socklen_t)len);
		*port = ntohs(a->sin6_port);
	}
}

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

/* ---- serve ---------------------------------------------------------------- */

static int serve(const char *proto, const char *addr, int port, const char *pidfile)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen;
	int tcp = !strcmp(proto, "tcp"), one = 1, fd, fam;
	char buf[512], tmp[512];
	FILE *f;

	fam = parse_addr(addr, port, &ss, &len);
	if (fam < 0)
		return 2;
	prctl(PR_SET_NAME, tcp ? "kt-srv-tcp" : "kt-srv-udp", 0, 0, 0);
	fd = socket(fam, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return die("bind");
	if (tcp && listen(fd, 64) < 0)
		return die("listen");
	snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
	f = fopen(tmp, "w");
	if (!f)
		return die(tmp);
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	if (rename(tmp, pidfile) < 0)
		return die("rename");
	for (;;) {
		plen = sizeof(peer);
		if (tcp) {
			int c = accept(fd, (struct sockaddr *)&peer, &plen);
			ssize_t n;

			if (c < 0) {
				if (errno == EINTR)
					continue;
				return die("accept");
			}
			if (wait_readable(c, IO_TIMEOUT_MS)) {
				n = read(c, buf, sizeof(buf));
				if (n > 0 && write(c, buf, (size_t)n) < 0)
					perror("kt-net: write");
			}
			close(c);
		} else {
			ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return die("recvfrom");
			}
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
		}
	}
}

/* ---- client --------------------------------------------------------------- */

static unsigned short csum(const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned long s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (unsigned long)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (unsigned long)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((unsigned short)~s);
}

/* The source address the kernel picks for dst (a connected UDP socket sends nothing). */
static int route_src(int fam, const struct sockaddr_storage *dst, socklen_t len,
		     struct sockaddr_storage *src)
{
	socklen_t sl = sizeof(*src);
	struct sockaddr_storage d = *dst;
	int fd = socket(fam, SOCK_DGRAM, 0), r;

	if (fd < 0)
		return -1;
	if (fam == AF_INET)
		((struct sockaddr_in *)&d)->sin_port = htons(9);
	else
		((struct sockaddr_in6 *)&d)->sin6_port = htons(9);
	r = connect(fd, (struct sockaddr *)&d, len);
	if (r == 0)
		r = getsockname(fd, (struct sockaddr *)src, &sl);
	close(fd);
	return r;
}

static int icmp_echo(int fam, const struct sockaddr_storage *dst, socklen_t len, unsigned short id)
{
	unsigned char pkt[64], rbuf[1500];
	int fd = socket(fam, SOCK_RAW, fam == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	struct timespec t0, t1;

	if (fd < 0)
		return die("raw socket");
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = fam == AF_INET ? 8 : 128;	/* echo request */
	pkt[4] = (unsigned char)(id >> 8);
	pkt[5] = (unsigned char)id;
	pkt[7] = 1;				/* sequence 1 */
	memcpy(pkt + 8, "kt-net echo", 11);
	if (fam == AF_INET) {
		unsigned short c = csum(pkt, 19);

		memcpy(pkt + 2, &c, 2);
	}			/* ICMPv6: the kernel fills the checksum of a raw socket */
	if (sendto(fd, pkt, 19, 0, (const struct sockaddr *)dst, len) < 0)
		return die("sendto");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left;
		ssize_t n;
		const unsigned char *ic = rbuf;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = IO_TIMEOUT_MS - ((t1.tv_sec - t0.tv_sec) * 1000 +
					(t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || !wait_readable(fd, (int)left))
			break;
		n = recv(fd, rbuf, sizeof(rbuf), 0);
		if (n <= 0)
			continue;
		if (fam == AF_INET) {	/* raw IPv4 sockets get the IP header */
			size_t hl = (size_t)(rbuf[0] & 0x0f) * 4;

			if ((size_t)n < hl + 8)
				continue;
			ic = rbuf + hl;
			n -= (ssize_t)hl;
		}
		if (n >= 8 && ic[0] == (fam == AF_INET ? 0 : 129) &&
		    (ic[4] << 8 | ic[5]) == id) {
			close(fd);
			return 0;
		}
	}
	close(fd);
	fprintf(stderr, "kt-net: no echo reply\n");
	return 1;
}

static int client(int argc, char **argv)
{
	const char *tag = argv[0], *proto = argv[1], *dst = argv[2];
	int icmp = !strcmp(proto, "icmp"), tcp = !strcmp(proto, "tcp");
	int port = icmp ? 0 : (argc > 3 ? atoi(argv[3]) : 0);
	const char *owner_arg = icmp ? (argc > 3 ? argv[3] : NULL) : (argc > 4 ? argv[4] : NULL);
	long owner = owner_arg ? atol(owner_arg) : (long)getpid();
	struct sockaddr_storage ss, local;
	socklen_t len, llen = sizeof(local);
	char la[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN], buf[64];
	int fam, fd, lport = 0, dport = 0, rc = 0;

	prctl(PR_SET_NAME, "kt-cli", 0, 0, 0);
	fam = parse_addr(dst, port, &ss, &len);
	if (fam < 0)
		return 2;
	if (icmp) {
		unsigned short id = (unsigned short)(getpid() & 0xffff);

		if (route_src(fam, &ss, len, &local) < 0)
			return die("route lookup");
		addr_str(&local, la, sizeof(la), &lport);
		addr_str(&ss, da, sizeof(da), &dport);
		rc = icmp_echo(fam, &ss, len, id);
		lport = id;
		dport = 0;
	} else {
		struct timeval tv = { IO_TIMEOUT_MS / 1000, 0 };

		fd = socket(fam, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (fd < 0)
			return die("socket");
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			return die("connect");
		if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
			return die("getsockname");
		addr_str(&local, la, sizeof(la), &lport);
		addr_str(&ss, da, sizeof(da), &dport);
		if (send(fd, "kt-net", 6, 0) != 6)
			return die("send");
		if (recv(fd, buf, sizeof(buf), 0) <= 0) {
			fprintf(stderr, "kt-net: %s: no answer from %s:%d\n", tag, da, dport);
			rc = 1;
		}
		close(fd);
	}
	printf("EXPECT tag=%s owner=%ld proto=%s family=%s src=%s sport=%d dst=%s dport=%d\n", tag,
	       owner, fam == AF_INET ? proto : (icmp ? "icmpv6" : proto),
	       fam == AF_INET ? "ipv4" : "ipv6", la, lport, da, dport);
	fflush(stdout);
	return rc;
}

/* ---- check ---------------------------------------------------------------- */

/* Value of "key": in a flat JSON line: a string without quotes, a number, or "null". */
static int jget(const char *line, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p) {
		out[0] = 0;
		return -1;
	}
	p += strlen(pat);
	if (*p == '"') {
		p++;
		while (*p && *p != '"' && n + 1 < len) {
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p++;
		}
	} else {
		while (*p && *p != ',' && *p != '}' && n + 1 < len)
			out[n++] = *p++;
	}
	out[n] = 0;
	return 0;
}

/* Value of key=value in an EXPECT line. */
static void eget(const char *line, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	out[0] = 0;
	if (!p)
		return;
	p += strlen(pat);
	while (*p && *p != ' ' && *p != '\n' && n + 1 < len)
		out[n++] = *p++;
	out[n] = 0;
}

/* Addresses compared as addresses (flowtop and inet_ntop may spell IPv6 alike, but be sure). */
static int same_addr(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int fa = strchr(a, ':') ? AF_INET6 : AF_INET, fb = strchr(b, ':') ? AF_INET6 : AF_INET;

	if (fa != fb || inet_pton(fa, a, x) != 1 || inet_pton(fb, b, y) != 1)
		return 0;
	return !memcmp(x, y, fa == AF_INET ? 4 : 16);
}

static char **read_lines(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, **v = NULL;
	size_t cap = 0, vc = 0;
	ssize_t r;

	*n = 0;
	if (!f)
		return NULL;
	while ((r = getline(&line, &cap, f)) >= 0) {
		if (*n == vc) {
			vc = vc ? vc * 2 : 256;
			v = realloc(v, vc * sizeof(*v));
			if (!v)
				exit(3);
		}
		v[(*n)++] = strdup(line);
	}
	free(line);
	fclose(f);
	return v;
}

static int check(const char *mode, const char *expf, const char *jsonf, int quiet)
{
	size_t ne, nj;
	char **exp = read_lines(expf, &ne), **js = read_lines(jsonf, &nj);
	int ebpf = !strcmp(mode, "ebpf");
	unsigned right = 0, total = 0, found = 0, attributed = 0;

	if (!exp) {
		fprintf(stderr, "kt-net: cannot read %s\n", expf);
		return 2;
	}
	for (size_t i = 0; i < ne; i++) {
		char tag[64], owner[32], proto[16], fam[8], src[64], dst[64], sport[16], dport[16];
		char why[256] = "";
		unsigned events = 0, good = 0;
		int icmp;

		if (strncmp(exp[i], "EXPECT ", 7))
			continue;
		total++;
		eget(exp[i], "tag", tag, sizeof(tag));
		eget(exp[i], "owner", owner, sizeof(owner));
		eget(exp[i], "proto", proto, sizeof(proto));
		eget(exp[i], "family", fam, sizeof(fam));
		eget(exp[i], "src", src, sizeof(src));
		eget(exp[i], "dst", dst, sizeof(dst));
		eget(exp[i], "sport", sport, sizeof(sport));
		eget(exp[i], "dport", dport, sizeof(dport));
		icmp = !strncmp(proto, "icmp", 4);
		for (size_t j = 0; j < nj; j++) {
			char v[128], pid[32], attr[32], comm[64], type[16];

			if (jget(js[j], "type", type, sizeof(type)) || !strcmp(type, "summary"))
				continue;
			if (jget(js[j], "proto", v, sizeof(v)) || strcmp(v, proto))
				continue;
			if (jget(js[j], "family", v, sizeof(v)) || strcmp(v, fam))
				continue;
			if (jget(js[j], "src", v, sizeof(v)) || !same_addr(v, src))
				continue;
			if (jget(js[j], "dst", v, sizeof(v)) || !same_addr(v, dst))
				continue;
			if (icmp) {
				if (jget(js[j], "icmp_id", v, sizeof(v)) || strcmp(v, sport))
					continue;
			} else {
				if (jget(js[j], "sport", v, sizeof(v)) || strcmp(v, sport))
					continue;
				if (jget(js[j], "dport", v, sizeof(v)) || strcmp(v, dport))
					continue;
			}
			events++;
			jget(js[j], "pid", pid, sizeof(pid));
			jget(js[j], "attr", attr, sizeof(attr));
			jget(js[j], "comm", comm, sizeof(comm));
			if (!strcmp(owner, "0") ? !strcmp(pid, "null")
						: !strcmp(pid, owner) && (!ebpf || !strcmp(attr, "ebpf")))
				good++;
			else if (!why[0])
				snprintf(why, sizeof(why), "%s event: pid=%s comm=%s attr=%s, want pid=%s%s",
					 type, pid, comm, attr, strcmp(owner, "0") ? owner : "null",
					 strcmp(owner, "0") && ebpf ? " attr=ebpf" : "");
		}
		if (events)
			found++;
		if (events && good == events && strcmp(owner, "0"))
			attributed++;
		if (!events) {
			printf("  miss %-10s %s %s %s:%s -> %s:%s: no flow event\n", tag, fam, proto, src,
			       sport, dst, dport);
		} else if (ebpf ? good == events : 1) {
			right++;
			if (!quiet)
				printf("  ok   %-10s %s %s %s:%s -> %s:%s owner=%s (%u events)%s%s\n", tag,
				       fam, proto, src, sport, dst, dport, owner, events,
				       why[0] ? " attribution: " : "", why);
		} else {
			printf("  bad  %-10s %s %s %s:%s -> %s:%s: %s (%u/%u events right)\n", tag,
			       fam, proto, src, sport, dst, dport, why, good, events);
		}
	}
	printf("RESULT right=%u total=%u found=%u attributed=%u\n", right, total, found, attributed);
	return right == total && total ? 0 : 1;
}

static int summary(const char *jsonf)
{
	size_t nj;
	char **js = read_lines(jsonf, &nj);
	const char *last = NULL;
	char mode[32], attr[32], reason[300], probes[200], *p, *q;

	for (size_t j = 0; js && j < nj; j++)
		if (strstr(js[j], "\"type\":\"summary\""))
			last = js[j];
	if (!last) {
		printf("mode=none attr=none probes=- reason=no summary line\n");
		return 1;
	}
	jget(last, "mode", mode, sizeof(mode));
	jget(last, "mode_reason", reason, sizeof(reason));
	jget(last, "attr", attr, sizeof(attr));
	probes[0] = 0;
	p = strstr(last, "\"probes\":{");
	if (p) {
		p += 10;
		q = strchr(p, '}');
		if (q && (size_t)(q - p) < sizeof(probes)) {
			size_t n = 0;

			for (; p < q; p++)
				if (*p != '"')
					probes[n++] = *p == ',' ? ' ' : *p;
			probes[n] = 0;
		}
	}
	/* whether the DNS-answer program loaded (names the applications asked for) */
	printf("mode=%s attr=%s asked=%s probes=%s reason=%s\n", mode, attr[0] ? attr : "none",
	       strstr(last, "\"names\":{\"asked\":true") ? "yes" : "no",
	       probes[0] ? probes : "-", reason);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 6 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argv[3], atoi(argv[4]), argv[5]);
	if (argc >= 5 && !strcmp(argv[1], "client"))
		return client(argc - 2, argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "check"))
		return check(argv[2], argv[3], argv[4], argc > 5);
	if (argc >= 3 && !strcmp(argv[1], "summary"))
		return summary(argv[2]);
	fprintf(stderr, "usage: kt-net serve tcp|udp ADDR PORT PIDFILE | client TAG PROTO DST [PORT] "
			"[OWNER] | check ebpf|conntrack EXPECT JSON [quiet] | summary JSON\n");
	return 2;
}
