/* fmt.c - formatting of addresses, counters, rates, durations and untrusted strings. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <wchar.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "fmt.h"

char *fmt_addr(char *dst, size_t len, __u8 family, const __u8 *addr)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, dst, (socklen_t)len))
		snprintf(dst, len, "?");
	return dst;
}

char *fmt_si(char *dst, size_t len, double v, const char *unit)
{
	static const char pfx[] = " KMGTPE";
	int i = 0;

	while (v >= 999.95 && i < 6) {
		v /= 1000.0;
		i++;
	}
	if (i == 0)
		snprintf(dst, len, "%.0f%s", v, unit);
	else if (v < 9.995)
		snprintf(dst, len, "%.2f%c%s", v, pfx[i], unit);
	else if (v < 99.95)
		snprintf(dst, len, "%.1f%c%s", v, pfx[i], unit);
	else
		snprintf(dst, len, "%.0f%c%s", v, pfx[i], unit);
	return dst;
}

char *fmt_bytes(char *dst, size_t len, __u64 bytes)
{
	return fmt_si(dst, len, (double)bytes, "B");
}

char *fmt_rate(char *dst, size_t len, double bytes_per_s, bool bits)
{
	if (bits)
		return fmt_si(dst, len, bytes_per_s * 8.0, "b/s");
	return fmt_si(dst, len, bytes_per_s, "B/s");
}

char *fmt_duration(char *dst, size_t len, double seconds)
{
	unsigned long long s = seconds < 0 ? 0 : (unsigned long long)seconds;

	if (s < 60)
		snprintf(dst, len, "%llus", s);
	else if (s < 3600)
		snprintf(dst, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(dst, len, "%lluh%02llum", s / 3600, (s / 60) % 60);
	else
		snprintf(dst, len, "%llud%02lluh", s / 86400, (s / 3600) % 24);
	return dst;
}

const char *proto_name(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_DCCP: return "dccp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_GRE: return "gre";
	case IPPROTO_ESP: return "esp";
	case IPPROTO_AH: return "ah";
	default: return NULL;
	}
}

char *proto_str(char *dst, size_t len, __u8 proto)
{
	const char *n = proto_name(proto);

	if (n)
		snprintf(dst, len, "%s", n);
	else
		snprintf(dst, len, "%u", proto);
	return dst;
}

bool proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

const char *family_name(__u8 family)
{
	return family == AF_INET6 ? "ipv6" : "ipv4";
}

/* Names as conntrack(8) prints them, indexed by the kernel's state numbers. */
static const char *const tcp_states[] = {
	"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
	"LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
};

static const char *const sctp_states[] = {
	"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT",
	"SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED",
};

static const char *const dccp_states[] = {
	"NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING",
	"TIMEWAIT", "IGNORE", "INVALID",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char *state_name(__u8 proto, __u8 state)
{
	switch (proto) {
	case IPPROTO_TCP:
		return state < ARRAY_SIZE(tcp_states) ? tcp_states[state] : "UNKNOWN";
	case IPPROTO_SCTP:
		return state < ARRAY_SIZE(sctp_states) ? sctp_states[state] : "UNKNOWN";
	case IPPROTO_DCCP:
		return state < ARRAY_SIZE(dccp_states) ? dccp_states[state] : "UNKNOWN";
	default:
		return NULL;
	}
}

static const struct {
	__u32 bit;
	const char *word;
} status_bits[] = {
	{ IPS_EXPECTED, "expected" },
	{ IPS_SEEN_REPLY, "seen_reply" },
	{ IPS_ASSURED, "assured" },
	{ IPS_CONFIRMED, "confirmed" },
	{ IPS_SRC_NAT, "src_nat" },
	{ IPS_DST_NAT, "dst_nat" },
	{ IPS_SEQ_ADJUST, "seq_adjust" },
	{ IPS_SRC_NAT_DONE, "src_nat_done" },
	{ IPS_DST_NAT_DONE, "dst_nat_done" },
	{ IPS_DYING, "dying" },
	{ IPS_FIXED_TIMEOUT, "fixed_timeout" },
	{ IPS_TEMPLATE, "template" },
	{ IPS_UNTRACKED, "untracked" },
	{ IPS_HELPER, "helper" },
	{ IPS_OFFLOAD, "offload" },
	{ 1 << 15, "hw_offload" },
};

size_t status_words(__u32 status, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(status_bits) && n < max; i++)
		if (status & status_bits[i].bit)
			out[n++] = status_bits[i].word;
	return n;
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned int *cp)
{
	unsigned int c = s[0], need, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		min = 0x80;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		min = 0x800;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		min = 0x10000;
		c &= 0x07;
	} else {
		return 0;
	}
	if (n < need + 1)
		return 0;
	for (unsigned int i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return need + 1;
}

char *fmt_sanitize(char *dst, size_t len, const char *src, size_t srclen)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, i = 0;

	if (!len)
		return dst;
	while (i < srclen && s[i]) {
		unsigned int cp;
		size_t n = utf8_seq(s + i, srclen - i, &cp);

		/* C0, DEL and C1 controls (incl. ESC and CSI) never pass. */
		if (!n || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
		    cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069)) {
			if (o + 1 >= len)
				break;
			dst[o++] = '?';
			i += n ? n : 1;
			continue;
		}
		if (o + n >= len)
			break;
		memcpy(dst + o, s + i, n);
		o += n;
		i += n;
	}
	dst[o] = '\0';
	return dst;
}

int fmt_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int w = 0;

	while (n) {
		unsigned int cp;
		size_t k = utf8_seq(p, n, &cp);
		int cw;

		if (!k) {
			k = 1;
			cw = 1;
		} else {
			cw = wcwidth((wchar_t)cp);
			if (cw < 0)
				cw = 1;
		}
		w += cw;
		p += k;
		n -= k;
	}
	return w;
}
