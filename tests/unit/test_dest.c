/* objs: dest geoip fmt */
/* test_dest.c - destinations: flows grouped by the remote end's country and AS, top processes. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dest.h"
#include "geoip.h"

#define DATA "../shared/testdata/geoip"

static struct flow fl[6];

static void mk(struct flow *f, const char *src, const char *dst, __u32 pid, const char *comm,
	       __u64 ob, __u64 rb, bool inbound)
{
	memset(f, 0, sizeof(*f));
	f->orig.family = AF_INET;
	f->orig.proto = IPPROTO_UDP;
	inet_pton(AF_INET, src, f->orig.src);
	inet_pton(AF_INET, dst, f->orig.dst);
	f->owner.pid = pid;
	snprintf(f->owner.comm, sizeof(f->owner.comm), "%s", comm);
	f->orig_bytes = ob;
	f->reply_bytes = rb;
	if (inbound)
		f->flags |= FLOW_F_INBOUND;
}

static const struct dest_agg *find(const struct dest_table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->d[i].key, key))
			return &t->d[i];
	return NULL;
}

static void test_groups(void **state)
{
	const char *const dbs[] = { DATA "/GeoIP2-City-Test.mmdb", DATA "/GeoLite2-ASN-Test.mmdb",
				    NULL };
	struct flow *rows[6];
	struct dest_table t = { 0 };
	const struct dest_agg *us, *lo, *tel;

	(void)state;
	if (access(dbs[0], R_OK) || access(dbs[1], R_OK)) {
		printf("SKIP: %s absent\n", DATA);
		skip();
	}
	assert_int_equal(geoip_open(dbs, NULL, NULL), 2);
	/* three processes sending to the US, one of them twice; a local flow; an inbound one
	 * from an address only the ASN database knows (its remote end is the source) */
	mk(&fl[0], "10.0.0.1", "214.78.120.1", 10, "curl", 5000, 100, false);
	mk(&fl[1], "10.0.0.1", "214.78.120.9", 11, "wget", 100, 100, false);
	mk(&fl[2], "10.0.0.1", "214.78.121.1", 10, "curl", 3000, 0, false);
	mk(&fl[3], "10.0.0.1", "214.78.120.3", 12, "nc", 10, 0, false);
	mk(&fl[4], "127.0.0.1", "127.0.0.1", 13, "lo", 1, 1, false);
	mk(&fl[5], "1.128.0.1", "10.0.0.1", 14, "sshd", 700, 9000, true);
	for (int i = 0; i < 6; i++)
		rows[i] = &fl[i];
	assert_int_equal(dest_build(&t, rows, 6, DEST_BY_COUNTRY), 0);
	us = find(&t, "US");
	assert_non_null(us);
	assert_string_equal(us->name, "United States");
	assert_int_equal(us->flows, 4);
	assert_int_equal(us->sent, 8110);
	assert_int_equal(us->recv, 200);
	/* curl's two flows count together and come first; nc is beyond nothing: three kept */
	assert_string_equal(us->top[0].comm, "curl");
	assert_int_equal(us->top[0].bytes, 8100);
	assert_string_equal(us->top[1].comm, "wget");
	assert_string_equal(us->top[2].comm, "nc");
	lo = find(&t, "loopback");
	assert_non_null(lo);
	assert_int_equal(lo->flows, 1);
	/* the most bytes first */
	assert_string_equal(t.d[0].key, "unknown");	/* 1.128.0.1 has no country: 9700 B */
	assert_string_equal(t.d[1].key, "US");
	assert_int_equal(dest_build(&t, rows, 6, DEST_BY_ASN), 0);
	tel = find(&t, "AS1221");
	assert_non_null(tel);
	assert_memory_equal(tel->name, "Telstra", 7);
	/* inbound: sent is what this host answered */
	assert_int_equal(tel->sent, 9000);
	assert_int_equal(tel->recv, 700);
	assert_string_equal(tel->top[0].comm, "sshd");
	dest_free(&t);
	geoip_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
