/*
 * mnl_wrap.c - make AddressSanitizer see what libmnl reads for the code under test.
 *
 * libmnl is a shared library built without sanitizers, so a parser that hands it a pointer
 * past its buffer (mnl_attr_get_type() on an attribute that is not really there) would go
 * unnoticed. The fuzzers link with -Wl,--wrap=mnl_attr_... : each call from user/ code lands
 * here first, where the bytes libmnl is about to read are touched by instrumented code (a
 * bad pointer is reported with the caller's stack), and then goes on to the real function.
 * Bytes are read one at a time: this checks bounds, not alignment.
 */
#include <stdint.h>
#include <libmnl/libmnl.h>

uint16_t __real_mnl_attr_get_type(const struct nlattr *attr);
uint16_t __real_mnl_attr_get_payload_len(const struct nlattr *attr);
bool __real_mnl_attr_ok(const struct nlattr *attr, int len);
struct nlattr *__real_mnl_attr_next(const struct nlattr *attr);
uint8_t __real_mnl_attr_get_u8(const struct nlattr *attr);
void *__real_mnl_attr_get_payload(const struct nlattr *attr);

uint16_t __wrap_mnl_attr_get_type(const struct nlattr *attr);
uint16_t __wrap_mnl_attr_get_payload_len(const struct nlattr *attr);
bool __wrap_mnl_attr_ok(const struct nlattr *attr, int len);
struct nlattr *__wrap_mnl_attr_next(const struct nlattr *attr);
uint8_t __wrap_mnl_attr_get_u8(const struct nlattr *attr);
void *__wrap_mnl_attr_get_payload(const struct nlattr *attr);

static void touch(const void *p, size_t off, size_t n)
{
	const volatile unsigned char *b = (const volatile unsigned char *)p + off;

	for (size_t i = 0; i < n; i++)
		(void)b[i];
}

/* nla_len is bytes 0-1, nla_type bytes 2-3, the payload starts at byte 4 */
uint16_t __wrap_mnl_attr_get_type(const struct nlattr *attr)
{
	touch(attr, 2, 2);
	return __real_mnl_attr_get_type(attr);
}

uint16_t __wrap_mnl_attr_get_payload_len(const struct nlattr *attr)
{
	touch(attr, 0, 2);
	return __real_mnl_attr_get_payload_len(attr);
}

bool __wrap_mnl_attr_ok(const struct nlattr *attr, int len)
{
	/* libmnl reads nla_len only once len says a header fits */
	if (len >= (int)sizeof(struct nlattr))
		touch(attr, 0, 2);
	return __real_mnl_attr_ok(attr, len);
}

struct nlattr *__wrap_mnl_attr_next(const struct nlattr *attr)
{
	touch(attr, 0, 2);
	return __real_mnl_attr_next(attr);
}

uint8_t __wrap_mnl_attr_get_u8(const struct nlattr *attr)
{
	touch(attr, MNL_ATTR_HDRLEN, 1);
	return __real_mnl_attr_get_u8(attr);
}

/* pointer arithmetic only: nothing is read, but the attribute header must be there */
void *__wrap_mnl_attr_get_payload(const struct nlattr *attr)
{
	touch(attr, 0, sizeof(struct nlattr));
	return __real_mnl_attr_get_payload(attr);
}
