/* dns_build.h - building DNS messages for the unit tests (include after cmocka.h). */
#ifndef FLOWTOP_TEST_DNS_BUILD_H
#define FLOWTOP_TEST_DNS_BUILD_H

#include <stdint.h>
#include <string.h>

/* a message under construction */
struct msg {
	uint8_t b[8192];
	size_t n;
};

static inline void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static inline void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static inline void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

/* "www.example.com" as labels */
static inline void put_name(struct msg *m, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");
		uint8_t lb = (uint8_t)l;

		put(m, &lb, 1);
		put(m, name, l);
		name += l + (name[l] == '.');
	}
	put(m, "", 1);
}

#endif
