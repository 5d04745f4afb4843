/* fuzz-srcs: user/dns.c user/asked.c */
/* fuzz-libs: */
/* fuzz-seeds: tests/fuzz/corpus/dns */
/*
 * fuzz_dns.c - libFuzzer target for the DNS response parser (user/dns.c) and what is built on
 * it (user/asked.c): the payloads of DNS answers are outside input. The input is one message,
 * exactly its bytes (reads past the end are caught). Every name handed out must be printable
 * ASCII of at most 255 characters, and the parse must also hold for every name offset read on
 * its own. The same bytes are parsed as a PTR response (dns_parse_ptr), learned by asked_feed
 * (every address the parser gives must then be named after the question), and sent as a DNS
 * over TCP stream to asked_tcp in 2-3 segments whose split points come from the first bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "asked.h"
#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a presentation name from dns_read_name: [a-z0-9-_?] labels joined by dots, or "." */
static void check_name(const char *name, size_t max)
{
	size_t n = strnlen(name, max);

	if (n == 0 || n >= max || n >= DNS_NAME_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == '?'))
			abort();
	}
}

static void check(void *ctx, const struct dns_addr *a)
{
	size_t n = strlen(a->qname);

	(void)ctx;
	if (n == 0 || n >= DNS_NAME_MAX || (a->family != AF_INET && a->family != AF_INET6))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a->qname[i] < 0x21 || (unsigned char)a->qname[i] > 0x7e)
			abort();
}

/* the addresses of one parse, and the question's name */
#define MAX_SEEN 64
struct seen {
	int n;
	char qname[DNS_NAME_MAX];
	uint8_t family[MAX_SEEN];
	uint8_t addr[MAX_SEEN][16];
};

static void collect(void *ctx, const struct dns_addr *a)
{
	struct seen *s = ctx;

	check(NULL, a);
	if (s->n < MAX_SEEN) {
		strcpy(s->qname, a->qname);
		s->family[s->n] = a->family;
		memcpy(s->addr[s->n], a->addr, 16);
		s->n++;
	}
}

#define TS (1000ULL * 1000000000ULL)

/* dns_parse_ptr: a result and a name only as documented */
static void fuzz_ptr(const uint8_t *data, size_t size)
{
	char name[DNS_NAME_MAX], small[6];
	uint32_t ttl = 12345;
	int r = dns_parse_ptr(data, size, name, sizeof(name), &ttl);

	if (r != 1 && r != 0 && r != -EAGAIN && r != -EINVAL)
		abort();
	if (r == 1)
		check_name(name, sizeof(name));
	if (r < 0 && ttl != 0)
		abort();
	/* a small output buffer: the same result, a cut, terminated name */
	memset(small, 'X', sizeof(small));
	if (dns_parse_ptr(data, size, small, sizeof(small), &ttl) != r)
		abort();
	if (r == 1) {
		check_name(small, sizeof(small));
		if (strncmp(small, name, strlen(small)))
			abort();
	}
}

/*
 * asked_feed (from a fresh state): every address the parser gives is named after the question
 * right after. (Only for responses with addresses: the table asked_feed sets up costs ~1 ms
 * per input under ASan to make and free.)
 */
static void fuzz_feed(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	int r = dns_parse_response(data, size, collect, &s);

	if (r <= 0)
		return;
	if (asked_feed(data, size, TS) != r)
		abort();
	for (int i = 0; i < s.n; i++) {
		const char *n = asked_name(s.family[i], s.addr[i], TS);

		if (!n || strcmp(n, s.qname))
			abort();
		/* and not for a flow that began before the answer */
		if (asked_name(s.family[i], s.addr[i], TS - 1))
			abort();
	}
}

/*
 * asked_tcp: data[0] and data[1] (the DNS id, which the parser ignores) choose how the stream
 * is cut: data[1] bit 7: the input as it is is the stream (its own length prefixes) rather
 * than the input as one message with its length in front; bit 6: the last segment is cut
 * (caplen < len); bit 5: the first segment comes again after the second (a retransmission);
 * data[0] and data[1] & 0x1f: where the stream is split.
 */
static void fuzz_tcp(const uint8_t *data, size_t size)
{
	struct asked_conn c;
	uint8_t *stream;
	size_t slen, cut[4];
	uint32_t seq0 = 0xfffffff0u;	/* wraps around 2^32 inside the stream */
	uint8_t c0, c1;
	int nseg = 0;
	size_t last = 0;

	if (size < 2)
		return;
	c0 = data[0];
	c1 = data[1];
	if (c1 & 0x80) {
		slen = size - 2;
		stream = malloc(slen ? slen : 1);
		if (!stream)
			return;
		memcpy(stream, data + 2, slen);
	} else {
		if (size > 65535)
			return;
		slen = size + 2;
		stream = malloc(slen);
		if (!stream)
			return;
		stream[0] = (uint8_t)(size >> 8);
		stream[1] = (uint8_t)size;
		memcpy(stream + 2, data, size);
	}
	cut[0] = 0;
	cut[1] = slen * c0 / 255;
	cut[2] = cut[1] + (slen - cut[1]) * (c1 & 0x1f) / 31;
	cut[3] = slen;
	memset(&c, 0, sizeof(c));
	c.family = AF_INET;
	c.saddr[0] = 192;
	c.saddr[3] = 53;
	c.daddr[0] = 10;
	c.daddr[3] = 1;
	c.sport = 53;
	c.dport = 40000;
	for (int i = 0; i < 3; i++)
		if (cut[i + 1] > cut[i])
			last = (size_t)i;
	for (int i = 0; i < 3; i++) {
		size_t len = cut[i + 1] - cut[i], caplen = len;

		if (!len)
			continue;
		if ((c1 & 0x40) && (size_t)i == last && len > 1)
			caplen = len / 2;
		asked_tcp(&c, seq0 + (uint32_t)cut[i], stream + cut[i], len, caplen,
			  TS + (uint64_t)i);
		if (++nseg == 2 && (c1 & 0x20)) {
			size_t first = cut[1] ? cut[1] : cut[2];

			asked_tcp(&c, seq0, stream, first, first, TS + 5);
		}
	}
	/* a second connection that sees the whole stream in one segment */
	c.dport = 40001;
	if (slen)
		asked_tcp(&c, 7, stream, slen, slen, TS + 9);
	free(stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[DNS_NAME_MAX];

	dns_parse_response(data, size, check, NULL);
	for (size_t off = 0; off < size && off < 64; off++) {
		size_t o = off;

		if (dns_read_name(data, size, &o, name, sizeof(name)) == 0 &&
		    (o > size || strlen(name) >= sizeof(name)))
			abort();
	}
	fuzz_ptr(data, size);
	fuzz_feed(data, size);
	fuzz_tcp(data, size);
	asked_reset();	/* each input from a fresh state: what fails replays alone */
	return 0;
}
