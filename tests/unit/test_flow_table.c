/* objs: flow_table */
/* test_flow_table.c - the flow table: insert, find by id and tuple, remove, growth, memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "flow_table.h"

static struct flow mk(__u32 netns, __u32 id, __u32 n)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.netns = netns;
	f.id = id;
	f.orig.family = AF_INET;
	f.orig.proto = IPPROTO_TCP;
	f.orig.src[0] = 10;
	memcpy(&f.orig.src[1], &n, 3);
	f.orig.dst[0] = 192;
	f.orig.sport = (__u16)(n & 0xffff);
	f.orig.dport = 443;
	return f;
}

static void test_insert_find(void **state)
{
	struct flow_table *ft = ft_new();
	struct flow f = mk(1, 100, 7), *p;

	(void)state;
	assert_non_null(ft);
	p = ft_insert(ft, &f);
	assert_non_null(p);
	assert_int_equal(ft_count(ft), 1);
	assert_ptr_equal(ft_find_id(ft, 1, 100), p);
	assert_null(ft_find_id(ft, 2, 100));	/* other netns */
	assert_null(ft_find_id(ft, 1, 101));
	assert_ptr_equal(ft_find_tuple(ft, 1, &f.orig), p);
	f.orig.dport = 80;
	assert_null(ft_find_tuple(ft, 1, &f.orig));
	ft_remove(ft, p);
	assert_int_equal(ft_count(ft), 0);
	assert_null(ft_find_id(ft, 1, 100));
	ft_free(ft);
}

/* A retired flow stays in its slot, is found by neither key, also after the table grew. */
static void test_retire(void **state)
{
	struct flow_table *ft = ft_new();
	struct flow f = mk(1, 100, 7), *old, *cur;
	size_t in_slots = 0;

	(void)state;
	old = ft_insert(ft, &f);
	ft_retire(ft, old);
	assert_true(old->flags & FLOW_F_RETIRED);
	assert_null(ft_find_id(ft, 1, 100));
	assert_null(ft_find_tuple(ft, 1, &f.orig));
	cur = ft_insert(ft, &f);
	assert_ptr_equal(ft_find_flow(ft, 1, 100, &f.orig), cur);
	/* growth rebuilds the chains: still only the current one is found */
	for (__u32 i = 0; i < 5000; i++) {
		struct flow g = mk(1, 1000 + i, 100 + i);

		assert_non_null(ft_insert(ft, &g));
	}
	assert_ptr_equal(ft_find_flow(ft, 1, 100, &f.orig), cur);
	assert_ptr_equal(ft_find_tuple(ft, 1, &f.orig), cur);
	for (size_t s = 0; s < ft_slots(ft); s++)
		in_slots += ft_slot(ft, s) == old;
	assert_int_equal(in_slots, 1);
	assert_int_equal(ft_count(ft), 5002);
	ft_remove(ft, old);
	assert_int_equal(ft_count(ft), 5001);
	assert_ptr_equal(ft_find_flow(ft, 1, 100, &f.orig), cur);
	ft_free(ft);
}

static void test_many_stable_pointers(void **state)
{
	enum { N = 300000 };
	struct flow_table *ft = ft_new();
	static struct flow *ptrs[N];
	size_t seen = 0;

	(void)state;
	for (__u32 i = 0; i < N; i++) {
		struct flow f = mk(1, i * 2654435761u, i);

		ptrs[i] = ft_insert(ft, &f);
		assert_non_null(ptrs[i]);
	}
	assert_int_equal(ft_count(ft), N);
	/* Growth never moves a flow. */
	for (__u32 i = 0; i < N; i += 997) {
		assert_ptr_equal(ft_find_id(ft, 1, i * 2654435761u), ptrs[i]);
		assert_ptr_equal(ft_find_tuple(ft, 1, &ptrs[i]->orig), ptrs[i]);
	}
	/* Remove every other flow, then iterate. */
	for (__u32 i = 0; i < N; i += 2)
		ft_remove(ft, ptrs[i]);
	assert_int_equal(ft_count(ft), N / 2);
	for (size_t s = 0; s < ft_slots(ft); s++)
		if (ft_slot(ft, s))
			seen++;
	assert_int_equal(seen, N / 2);
	for (__u32 i = 1; i < N; i += 1000)
		assert_ptr_equal(ft_find_id(ft, 1, i * 2654435761u), ptrs[i]);
	for (__u32 i = 0; i < N; i += 1000)
		assert_null(ft_find_id(ft, 1, i * 2654435761u));
	/* Memory per flow: the budget is under 300 bytes. */
	print_message("flow struct %zu bytes, table %zu bytes for %d flows = %.1f B/flow\n",
		      sizeof(struct flow), ft_memory(ft), N, (double)ft_memory(ft) / N);
	assert_true(sizeof(struct flow) <= 256);
	ft_free(ft);
}

static void test_reuse_slots(void **state)
{
	struct flow_table *ft = ft_new();

	(void)state;
	for (int round = 0; round < 5; round++) {
		struct flow *p[5000];

		for (__u32 i = 0; i < 5000; i++) {
			struct flow f = mk(7, i + 1, i);

			p[i] = ft_insert(ft, &f);
			assert_non_null(p[i]);
		}
		for (__u32 i = 0; i < 5000; i++)
			ft_remove(ft, p[i]);
		assert_int_equal(ft_count(ft), 0);
	}
	/* Slots are reused: the slab did not grow past two chunks. */
	assert_true(ft_slots(ft) <= 8192);
	ft_free(ft);
}

static void test_same_id_two_netns(void **state)
{
	struct flow_table *ft = ft_new();
	struct flow a = mk(1, 5, 1), b = mk(2, 5, 1);
	struct flow *pa, *pb;

	(void)state;
	pa = ft_insert(ft, &a);
	pb = ft_insert(ft, &b);
	assert_ptr_equal(ft_find_id(ft, 1, 5), pa);
	assert_ptr_equal(ft_find_id(ft, 2, 5), pb);
	assert_ptr_equal(ft_find_tuple(ft, 2, &b.orig), pb);
	ft_remove(ft, pa);
	assert_ptr_equal(ft_find_id(ft, 2, 5), pb);
	ft_remove(ft, pa);	/* double remove is harmless */
	assert_int_equal(ft_count(ft), 1);
	ft_free(ft);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find),
		cmocka_unit_test(test_retire),
		cmocka_unit_test(test_many_stable_pointers),
		cmocka_unit_test(test_reuse_slots),
		cmocka_unit_test(test_same_id_two_netns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
