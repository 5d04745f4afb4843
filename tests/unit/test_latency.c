/* objs: latency */
/* test_latency.c - the loop-latency histogram: bucket bounds and percentiles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "latency.h"

static void test_empty_and_small(void **state)
{
	struct lat_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(lat_pct(&h, 0.99), 0);
	for (uint64_t v = 0; v < 8; v++)
		lat_add(&h, v);
	/* below 8 us every value has its own bucket */
	assert_int_equal(lat_pct(&h, 0.5), 3);
	assert_int_equal(lat_pct(&h, 1.0), 7);
}

static void test_percentiles(void **state)
{
	struct lat_hist h;
	uint64_t p50, p99;

	(void)state;
	memset(&h, 0, sizeof(h));
	/* 990 fast turns of 100 us and 10 slow ones of 40 ms */
	for (int i = 0; i < 990; i++)
		lat_add(&h, 100);
	for (int i = 0; i < 10; i++)
		lat_add(&h, 40000);
	p50 = lat_pct(&h, 0.5);
	p99 = lat_pct(&h, 0.99);
	/* within the bucket's 12.5% */
	assert_true(p50 >= 100 && p50 <= 113);
	assert_true(p99 >= 100 && p99 <= 113);
	assert_int_equal(lat_pct(&h, 0.999), 40000);
	assert_int_equal(h.max, 40000);
	assert_int_equal(h.n, 1000);
}

static void test_huge(void **state)
{
	struct lat_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	lat_add(&h, UINT64_MAX);
	lat_add(&h, (uint64_t)1 << 45);
	/* the last bucket takes what is past its range; the answer never exceeds max */
	assert_true(lat_pct(&h, 1.0) <= UINT64_MAX);
	assert_int_equal(h.b[LAT_BUCKETS - 1], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_small),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_huge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
