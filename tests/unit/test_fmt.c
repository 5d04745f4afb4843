/* objs: fmt */
/* test_fmt.c - formatting: sizes, rates, durations, names, and sanitizing untrusted strings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <locale.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "fmt.h"

static void test_numbers(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(fmt_bytes(b, sizeof(b), 0), "0B");
	assert_string_equal(fmt_bytes(b, sizeof(b), 999), "999B");
	assert_string_equal(fmt_bytes(b, sizeof(b), 1000), "1.00KB");
	assert_string_equal(fmt_bytes(b, sizeof(b), 123456), "123KB");
	assert_string_equal(fmt_bytes(b, sizeof(b), 12345678), "12.3MB");
	assert_string_equal(fmt_bytes(b, sizeof(b), 18446744073709551615ULL), "18.4EB");
	assert_string_equal(fmt_rate(b, sizeof(b), 1250, false), "1.25KB/s");
	assert_string_equal(fmt_rate(b, sizeof(b), 1250, true), "10.0Kb/s");
	assert_string_equal(fmt_rate(b, sizeof(b), 0, true), "0b/s");
	/* tiny buffers truncate, never overflow */
	assert_string_equal(fmt_bytes(b, 3, 12345678), "12");
}

static void test_durations(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(fmt_duration(b, sizeof(b), 0), "0s");
	assert_string_equal(fmt_duration(b, sizeof(b), 59.9), "59s");
	assert_string_equal(fmt_duration(b, sizeof(b), 62), "1m02s");
	assert_string_equal(fmt_duration(b, sizeof(b), 3600 * 3 + 240), "3h04m");
	assert_string_equal(fmt_duration(b, sizeof(b), 86400 * 2 + 3600 * 5), "2d05h");
	assert_string_equal(fmt_duration(b, sizeof(b), -5), "0s");
}

static void test_names(void **state)
{
	char b[16];
	const char *w[20];
	size_t n;

	(void)state;
	assert_string_equal(proto_name(IPPROTO_TCP), "tcp");
	assert_string_equal(proto_name(IPPROTO_UDPLITE), "udplite");
	assert_string_equal(proto_name(IPPROTO_ICMPV6), "icmpv6");
	assert_null(proto_name(253));
	assert_string_equal(proto_str(b, sizeof(b), 253), "253");
	assert_string_equal(state_name(IPPROTO_TCP, 3), "ESTABLISHED");
	assert_string_equal(state_name(IPPROTO_TCP, 7), "TIME_WAIT");
	assert_string_equal(state_name(IPPROTO_TCP, 200), "UNKNOWN");
	assert_string_equal(state_name(IPPROTO_SCTP, 4), "ESTABLISHED");
	assert_string_equal(state_name(IPPROTO_DCCP, 4), "OPEN");
	assert_null(state_name(IPPROTO_UDP, 0));
	n = status_words(IPS_ASSURED | IPS_SEEN_REPLY | IPS_SRC_NAT, w, 20);
	assert_int_equal(n, 3);
	assert_string_equal(w[0], "seen_reply");
	assert_string_equal(w[1], "assured");
	assert_string_equal(w[2], "src_nat");
}

static void test_addr(void **state)
{
	char b[FMT_ADDR_LEN];
	__u8 a[16] = { 0 };

	(void)state;
	inet_pton(AF_INET, "192.0.2.7", a);
	assert_string_equal(fmt_addr(b, sizeof(b), AF_INET, a), "192.0.2.7");
	inet_pton(AF_INET6, "2001:db8::1", a);
	assert_string_equal(fmt_addr(b, sizeof(b), AF_INET6, a), "2001:db8::1");
}

static void test_sanitize(void **state)
{
	char b[64];

	(void)state;
	/* escape sequences, C0/C1 controls, DEL: neutralized */
	assert_string_equal(fmt_sanitize(b, sizeof(b), "a\033[2Jb", 6), "a?[2Jb");
	assert_string_equal(fmt_sanitize(b, sizeof(b), "x\r\ny\t\x7f", 7), "x??y??");
	assert_string_equal(fmt_sanitize(b, sizeof(b), "\xc2\x9b" "31m", 5), "?31m");
	/* valid UTF-8 passes, invalid becomes '?' */
	assert_string_equal(fmt_sanitize(b, sizeof(b), "k\xc3\xb6ln", 5), "k\xc3\xb6ln");
	assert_string_equal(fmt_sanitize(b, sizeof(b), "a\xff\xfe" "b", 4), "a??b");
	assert_string_equal(fmt_sanitize(b, sizeof(b), "\xe2\x82", 2), "??");	/* truncated */
	assert_string_equal(fmt_sanitize(b, sizeof(b), "\xc0\xaf", 2), "??");	/* overlong */
	assert_string_equal(fmt_sanitize(b, sizeof(b), "\xed\xa0\x80", 3), "???");	/* surrogate */
	/* bidi overrides could reorder what the user sees */
	assert_string_equal(fmt_sanitize(b, sizeof(b), "a\xe2\x80\xae" "b", 5), "a?b");
	/* stops at NUL and at srclen; never splits a character at the buffer end */
	assert_string_equal(fmt_sanitize(b, sizeof(b), "ab\0cd", 5), "ab");
	assert_string_equal(fmt_sanitize(b, sizeof(b), "abcdef", 3), "abc");
	assert_string_equal(fmt_sanitize(b, 3, "\xc3\xb6\xc3\xb6", 4), "\xc3\xb6");
	assert_string_equal(fmt_sanitize(b, 1, "abc", 3), "");
}

static void test_width(void **state)
{
	(void)state;
	setlocale(LC_ALL, "C.UTF-8");
	assert_int_equal(fmt_width("abc"), 3);
	assert_int_equal(fmt_width("k\xc3\xb6ln"), 4);
	assert_int_equal(fmt_width("\xe6\x9d\xb1\xe4\xba\xac"), 4);	/* two wide CJK */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),	 cmocka_unit_test(test_durations),
		cmocka_unit_test(test_names),	 cmocka_unit_test(test_addr),
		cmocka_unit_test(test_sanitize), cmocka_unit_test(test_width),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
