/* objs: geoip fmt */
/* test_geoip.c - unit tests for user/geoip.c against the MaxMind test databases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "geoip.h"

/* Tests run from the repo root; the shared test data is read-only and may be absent. */
#define DATA "../shared/testdata/geoip"
#define CITY DATA "/GeoIP2-City-Test.mmdb"
#define ASN DATA "/GeoLite2-ASN-Test.mmdb"

#define MAX_WARN 32

static char *warnings[MAX_WARN];
static int nwarn;
static bool have_data;

static void collect(const char *msg)
{
	if (nwarn < MAX_WARN)
		warnings[nwarn] = strdup(msg);
	nwarn++;
}

static void clear_warnings(void)
{
	int i;

	for (i = 0; i < nwarn && i < MAX_WARN; i++)
		free(warnings[i]);
	nwarn = 0;
}

static int setup(void **state)
{
	clear_warnings();
	return 0;
}

static int teardown(void **state)
{
	geoip_close();
	clear_warnings();
	return 0;
}

#define NEED_DATA()								\
	do {									\
		if (!have_data) {						\
			print_message("SKIP: %s absent\n", DATA);		\
			skip();							\
		}								\
	} while (0)

static int lookup(const char *ip, struct geo_info *g)
{
	__u8 a[16] = { 0 };

	if (strchr(ip, ':')) {
		assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
		return geoip_lookup(AF_INET6, a, g);
	}
	assert_int_equal(inet_pton(AF_INET, ip, a), 1);
	return geoip_lookup(AF_INET, a, g);
}

static void expect_geo(const char *ip, const char *cc, const char *cname, const char *city)
{
	struct geo_info g;

	assert_int_equal(lookup(ip, &g), 0);
	assert_int_equal(g.scope, GEO_PUBLIC);
	assert_string_equal(g.country, cc);
	assert_string_equal(g.country_name, cname);
	assert_string_equal(g.city, city);
}

static void expect_asn(const char *ip, __u32 asn, const char *org)
{
	struct geo_info g;

	assert_int_equal(lookup(ip, &g), 0);
	assert_int_equal(g.asn, asn);
	assert_string_equal(g.org, org);
}

static void open_good(void)
{
	const char *paths[] = { CITY, ASN, NULL };

	assert_int_equal(geoip_open(paths, NULL, collect), 2);
	assert_int_equal(nwarn, 0);
	assert_true(geoip_available());
}

static void test_city_v4(void **state)
{
	NEED_DATA();
	open_good();
	expect_geo("81.2.69.142", "GB", "United Kingdom", "London");
	expect_geo("81.2.69.150", "GB", "United Kingdom", "London");
	expect_geo("2.125.160.216", "GB", "United Kingdom", "Boxford");
	expect_geo("216.160.83.57", "US", "United States", "Milton");
	/* Non-ASCII UTF-8 must survive sanitizing. */
	expect_geo("89.160.20.112", "SE", "Sweden", "Link\xc3\xb6ping");
	expect_geo("175.16.199.1", "CN", "China", "Changchun");
	/* A dual-stack socket's IPv4-mapped peer is the IPv4 address. */
	expect_geo("::ffff:81.2.69.142", "GB", "United Kingdom", "London");
}

static void test_city_v6(void **state)
{
	NEED_DATA();
	open_good();
	expect_geo("2001:480:10::1", "US", "United States", "San Diego");
	expect_geo("2001:218::1", "JP", "Japan", "");
	expect_geo("2a02:d3c0::1", "GB", "United Kingdom", "");
}

static void test_asn(void **state)
{
	struct geo_info g;

	NEED_DATA();
	open_good();
	expect_asn("1.128.0.0", 1221, "Telstra Pty Ltd");
	expect_asn("1.159.255.255", 1221, "Telstra Pty Ltd");
	expect_asn("1.0.0.1", 15169, "Google Inc.");
	/* An AS without an organisation in the database. */
	expect_asn("12.81.96.1", 7018, "");
	expect_asn("2001:1700::1", 6730, "Sunrise Communications AG");
	/* City and ASN combined: 81.2.69.142 is in the City database only. */
	assert_int_equal(lookup("81.2.69.142", &g), 0);
	assert_int_equal(g.asn, 0);
	assert_string_equal(g.org, "");
	assert_string_equal(g.city, "London");
}

static void test_not_found(void **state)
{
	struct geo_info g;
	int i;

	NEED_DATA();
	open_good();
	/* Public (documentation) addresses that the test databases do not contain. */
	for (i = 0; i < 2; i++) {	/* the second time from the cache */
		assert_int_equal(lookup("192.0.2.1", &g), -ENOENT);
		assert_int_equal(g.scope, GEO_PUBLIC);
		assert_string_equal(g.country, "");
		assert_int_equal(lookup("2001:db8::1", &g), -ENOENT);
		assert_string_equal(g.city, "");
		expect_geo("81.2.69.142", "GB", "United Kingdom", "London");
	}
}

static void expect_scope(const char *ip, enum geo_scope s)
{
	struct geo_info g;

	memset(&g, 0x55, sizeof(g));
	assert_int_equal(lookup(ip, &g), 0);
	assert_int_equal(g.scope, s);
	assert_string_equal(g.country, "");
	assert_string_equal(g.country_name, "");
	assert_string_equal(g.city, "");
	assert_string_equal(g.org, "");
	assert_int_equal(g.asn, 0);
}

static void check_scopes(void)
{
	expect_scope("10.1.2.3", GEO_PRIVATE);
	expect_scope("172.16.0.1", GEO_PRIVATE);
	expect_scope("172.31.255.255", GEO_PRIVATE);
	expect_scope("192.168.1.1", GEO_PRIVATE);
	expect_scope("100.64.0.1", GEO_PRIVATE);
	expect_scope("fd00::1", GEO_PRIVATE);
	expect_scope("127.0.0.1", GEO_LOOPBACK);
	expect_scope("127.1.2.3", GEO_LOOPBACK);
	expect_scope("::1", GEO_LOOPBACK);
	expect_scope("::ffff:127.0.0.1", GEO_LOOPBACK);
	expect_scope("169.254.1.1", GEO_LINKLOCAL);
	expect_scope("fe80::1", GEO_LINKLOCAL);
	expect_scope("224.0.0.1", GEO_MULTICAST);
	expect_scope("239.255.255.250", GEO_MULTICAST);
	expect_scope("ff02::1", GEO_MULTICAST);
	expect_scope("0.0.0.0", GEO_UNSPECIFIED);
	expect_scope("::", GEO_UNSPECIFIED);
}

static void test_scopes_no_db(void **state)
{
	struct geo_info g;

	/* Labelling needs no database at all. */
	assert_int_equal(geoip_open(NULL, NULL, collect), 0);
	assert_false(geoip_available());
	check_scopes();
	assert_int_equal(lookup("172.32.0.1", &g), -ENOENT);
	assert_int_equal(g.scope, GEO_PUBLIC);
	assert_int_equal(lookup("8.8.8.8", &g), -ENOENT);
	assert_int_equal(nwarn, 0);
}

static void test_scopes_with_db(void **state)
{
	NEED_DATA();
	open_good();
	check_scopes();
}

static void test_scope_names(void **state)
{
	assert_string_equal(geo_scope_name(GEO_PUBLIC), "public");
	assert_string_equal(geo_scope_name(GEO_PRIVATE), "private");
	assert_string_equal(geo_scope_name(GEO_LOOPBACK), "loopback");
	assert_string_equal(geo_scope_name(GEO_LINKLOCAL), "link-local");
	assert_string_equal(geo_scope_name(GEO_MULTICAST), "multicast");
	assert_string_equal(geo_scope_name(GEO_UNSPECIFIED), "unspecified");
	assert_string_equal(geo_scope_name((enum geo_scope)99), "?");
}

static void test_missing(void **state)
{
	const char *paths[] = { "/nonexistent/GeoLite2-City.mmdb", "/nonexistent-dir", NULL };
	struct geo_info g;

	assert_int_equal(geoip_open(paths, "/nonexistent/geoip.conf", collect), 0);
	assert_int_equal(nwarn, 0);
	assert_false(geoip_available());
	assert_int_equal(lookup("81.2.69.142", &g), -ENOENT);
}

static void test_duplicate(void **state)
{
	const char *paths[] = { CITY, CITY, DATA "/../geoip/GeoIP2-City-Test.mmdb", NULL };

	NEED_DATA();
	assert_int_equal(geoip_open(paths, NULL, collect), 1);
	assert_int_equal(nwarn, 0);
}

static void test_other_kinds(void **state)
{
	const char *paths[] = { DATA "/GeoLite2-Country-Test.mmdb", NULL };
	const char *paths2[] = { DATA "/GeoLite2-City-Test.mmdb", NULL };

	NEED_DATA();
	/* A Country database gives no city. */
	assert_int_equal(geoip_open(paths, NULL, collect), 1);
	expect_geo("81.2.69.142", "GB", "United Kingdom", "");
	assert_int_equal(geoip_open(paths2, NULL, collect), 1);
	expect_geo("81.2.69.142", "GB", "United Kingdom", "London");
	assert_int_equal(nwarn, 0);
}

static bool warned_about(const char *path)
{
	int i;

	for (i = 0; i < nwarn && i < MAX_WARN; i++)
		if (!strncmp(warnings[i], path, strlen(path)) && warnings[i][strlen(path)] == ':')
			return true;
	return false;
}

static void test_corrupt(void **state)
{
	static const char *const files[] = {
		DATA "/GeoIP2-City-Test-Broken-Double-Format.mmdb",
		DATA "/GeoIP2-City-Test-Invalid-Node-Count.mmdb",
		DATA "/MaxMind-DB-test-broken-pointers-24.mmdb",
		DATA "/MaxMind-DB-test-broken-search-tree-24.mmdb",
	};
	static const char *const ips[] = {
		"81.2.69.142", "2.125.160.216", "89.160.20.112", "216.160.83.57", "1.1.1.1",
		"2001:480:10::1", "2001:218::1", "175.16.199.1", "214.78.120.1", "8.8.8.8",
	};
	size_t i, j;

	NEED_DATA();
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *paths[] = { files[i], NULL };
		struct geo_info g;
		int n, r;

		clear_warnings();
		n = geoip_open(paths, NULL, collect);
		for (j = 0; j < sizeof(ips) / sizeof(ips[0]); j++) {
			r = lookup(ips[j], &g);
			assert_true(r == 0 || r == -ENOENT);
		}
		/* Either rejected with one warning, or usable with at most one at lookup. */
		print_message("%s: %d opened, %d warning(s)%s%s\n", files[i], n, nwarn,
			      nwarn ? ": " : "", nwarn ? warnings[0] : "");
		assert_true(nwarn <= 1);
		if (!n)
			assert_int_equal(nwarn, 1);
		if (nwarn)
			assert_true(warned_about(files[i]));
	}
}

static void test_bad_dir(void **state)
{
	const char *paths[] = { DATA "/bad", NULL };
	struct dirent *d;
	struct geo_info g;
	int files = 0;
	DIR *dir;

	NEED_DATA();
	dir = opendir(DATA "/bad");
	if (!dir) {
		print_message("SKIP: %s/bad absent\n", DATA);
		skip();
	}
	while ((d = readdir(dir))) {
		size_t len = strlen(d->d_name);

		files += len > 5 && !strcmp(d->d_name + len - 5, ".mmdb");
	}
	closedir(dir);
	/* None is a usable City, Country or ASN database: one warning each, none opened. */
	assert_int_equal(geoip_open(paths, NULL, collect), 0);
	assert_int_equal(nwarn, files);
	assert_int_equal(lookup("1.1.1.1", &g), -ENOENT);
}

static void test_conf(void **state)
{
	char tmpl[] = "/tmp/test_geoip.XXXXXX", conf[PATH_MAX], link[PATH_MAX];
	char data[PATH_MAX], asn[PATH_MAX];
	struct geo_info g;
	FILE *f;
	int i, n;

	NEED_DATA();
	assert_non_null(realpath(DATA, data));
	assert_non_null(realpath(ASN, asn));
	assert_non_null(mkdtemp(tmpl));
	snprintf(conf, sizeof(conf), "%s/geoip.conf", tmpl);
	snprintf(link, sizeof(link), "%s/asn.mmdb", tmpl);
	assert_int_equal(symlink(asn, link), 0);
	f = fopen(conf, "w");
	assert_non_null(f);
	/* A relative path (to the conf file), a comment, a missing path and a directory. */
	fprintf(f, "# standard locations\n\n  asn.mmdb  \n/nonexistent/GeoIP\n%s\n", data);
	fclose(f);

	n = geoip_open(NULL, conf, collect);
	/*
	 * The link, then from the directory: the two City and the Country databases (the ASN one
	 * is the link's target, not opened twice), maybe the broken-double-format one (its
	 * damage may only show at lookup); the three others warn, the missing path does not.
	 */
	print_message("conf: %d opened, %d warning(s)\n", n, nwarn);
	assert_true(n >= 4 && n <= 5);
	assert_int_equal(nwarn, 8 - n);
	for (i = 0; i < nwarn; i++)
		assert_non_null(strstr(warnings[i], data));
	expect_geo("81.2.69.142", "GB", "United Kingdom", "London");
	expect_asn("1.128.0.0", 1221, "Telstra Pty Ltd");
	assert_int_equal(lookup("10.0.0.1", &g), 0);
	assert_int_equal(g.scope, GEO_PRIVATE);

	unlink(conf);
	unlink(link);
	rmdir(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_city_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_city_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scopes_no_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scopes_with_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf, setup, teardown),
	};
	struct stat st;

	have_data = !stat(DATA, &st) && S_ISDIR(st.st_mode);
	if (!have_data)
		print_message("%s absent: tests that need it are skipped\n", DATA);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
