/* fuzz-srcs: user/dns.c */
/* fuzz-libs: */
/* fuzz-seeds: tests/fuzz/corpus/dns */
/*
 * fuzz_dns.c - libFuzzer target for the DNS response parser (user/dns.c): the payloads of
 * DNS answers are outside input. The input is one message, exactly its bytes (reads past
 * the end are caught). Every name handed out must be printable ASCII of at most 255
 * characters, and the parse must also hold for every name offset read on its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	return 0;
}
