/* dns.c - DNS response parsing: which addresses answer which queried name (A, AAAA, CNAME). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

#define HDR_LEN 12
#define T_A 1
#define T_CNAME 5
#define T_AAAA 28
#define C_IN 1
#define MAX_CNAMES 16		/* a longer chain is not followed further */
#define MAX_RECORDS 256		/* answers looked at per message */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t outlen)
{
	size_t pos = *off, o = 0, end = 0;
	size_t lowest = *off;	/* every jump must land before this: no loops */
	int total = 0;

	if (outlen < 2)
		return -EINVAL;
	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -EINVAL;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len)
				return -EINVAL;
			to = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			if (!end)
				end = pos + 2;
			if (to >= lowest)
				return -EINVAL;	/* forwards or onto itself */
			lowest = to;
			pos = to;
			continue;
		}
		if (l & 0xc0)
			return -EINVAL;	/* the 0x40 and 0x80 label types are not used */
		if (!l) {
			if (!end)
				end = pos + 1;
			break;
		}
		if (pos + 1 + l > len)
			return -EINVAL;
		total += l + 1;
		if (total > 255)
			return -EINVAL;
		if (o && o + 1 < outlen)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			unsigned char c = msg[pos + 1 + i];

			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
				   c == '_'))
				c = '?';	/* names reach terminals and JSON: nothing else */
			if (o + 1 < outlen)
				out[o++] = (char)c;
		}
		pos += 1 + (size_t)l;
	}
	if (!o)
		out[o++] = '.';	/* the root */
	out[o] = 0;
	*off = end;
	return 0;
}

struct rr {
	char name[DNS_NAME_MAX];
	uint16_t type;
	uint16_t cls;
	uint32_t ttl;
	size_t rdata;
	uint16_t rdlen;
};

static int read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr *r)
{
	if (dns_read_name(msg, len, off, r->name, sizeof(r->name)) < 0 || *off + 10 > len)
		return -EINVAL;
	r->type = get16(msg + *off);
	r->cls = get16(msg + *off + 2);
	r->ttl = get32(msg + *off + 4);
	r->rdlen = get16(msg + *off + 8);
	r->rdata = *off + 10;
	if (r->rdata + r->rdlen > len)
		return -EINVAL;
	*off = r->rdata + r->rdlen;
	return 0;
}

int dns_parse_response(const uint8_t *msg, size_t len, dns_addr_cb cb, void *ctx)
{
	static struct rr rrs[MAX_RECORDS];
	char qname[DNS_NAME_MAX], names[MAX_CNAMES + 1][DNS_NAME_MAX];
	size_t off = HDR_LEN;
	uint16_t flags, qd, an;
	int nnames = 1, found = 0, nrr = 0;

	if (len < HDR_LEN)
		return -EINVAL;
	flags = get16(msg + 2);
	qd = get16(msg + 4);
	an = get16(msg + 6);
	/* a response (QR), standard query, no error, one question */
	if (!(flags & 0x8000) || (flags >> 11 & 0xf) != 0 || (flags & 0xf) != 0 || qd != 1)
		return 0;
	if (dns_read_name(msg, len, &off, qname, sizeof(qname)) < 0 || off + 4 > len)
		return -EINVAL;
	if (get16(msg + off + 2) != C_IN)
		return 0;
	off += 4;
	for (unsigned int i = 0; i < an && nrr < MAX_RECORDS; i++) {
		if (read_rr(msg, len, &off, &rrs[nrr]) < 0)
			return found ? found : -EINVAL;	/* truncated: keep what came */
		if (rrs[nrr].cls == C_IN)
			nrr++;
	}
	/* the names that stand for the question: itself and its CNAME chain, in any order */
	memcpy(names[0], qname, sizeof(qname));
	for (int pass = 0; pass < MAX_CNAMES; pass++) {
		int before = nnames;

		for (int i = 0; i < nrr && nnames <= MAX_CNAMES; i++) {
			size_t p = rrs[i].rdata;
			char target[DNS_NAME_MAX];
			if (rrs[i].type != T_CNAME)
				continue;
			{
				bool owned = false, known = false;

				for (int k = 0; k < nnames; k++)
					owned |= !strcmp(rrs[i].name, names[k]);
				if (!owned || dns_read_name(msg, rrs[i].rdata + rrs[i].rdlen, &p, target,
							    sizeof(target)) < 0)
					continue;
				for (int k = 0; k < nnames; k++)
					known |= !strcmp(target, names[k]);
				if (!known)
					memcpy(names[nnames++], target, sizeof(target));
			}
		}
		if (nnames == before)
			break;
	}
	for (int i = 0; i < nrr; i++) {
		struct dns_addr a;
		bool owned = false;

		if (!((rrs[i].type == T_A && rrs[i].rdlen == 4) ||
		      (rrs[i].type == T_AAAA && rrs[i].rdlen == 16)))
			continue;
		for (int k = 0; k < nnames; k++)
			owned |= !strcmp(rrs[i].name, names[k]);
		if (!owned)
			continue;
		memset(&a, 0, sizeof(a));
		a.qname = qname;
		a.family = rrs[i].type == T_A ? AF_INET : AF_INET6;
		memcpy(a.addr, msg + rrs[i].rdata, rrs[i].rdlen);
		a.ttl = rrs[i].ttl;
		if (cb)
			cb(ctx, &a);
		found++;
	}
	return found;
}
