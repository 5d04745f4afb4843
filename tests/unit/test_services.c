/* objs: services */
/* test_services.c - unit tests for user/services.c: conf parsing, precedence, flow_service. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

#include "services.h"

/* Tests run from the repo root. */
#define DATA "tests/unit/data/services"
#define ETC_ENV "FLOWTOP_ETC_SERVICES"

#define MAX_WARN 16

static char *warnings[MAX_WARN];
static int nwarn;
static char tmpdir[64];

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

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Every test starts from nothing: no tables, no host /etc/services, no warnings. */
static int setup(void **state)
{
	services_free();
	clear_warnings();
	setenv(ETC_ENV, "", 1);
	tmpdir[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	services_free();
	clear_warnings();
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Files whose exact bytes matter (CRLF, NUL, no final newline) are made here, not in git. */
static const char *make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/flowtop-test-services-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return tmpdir;
}

static void write_tmp(const char *name, const void *data, size_t len)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void write_str(const char *name, const char *s)
{
	write_tmp(name, s, strlen(s));
}

static int load1(const char *dir)
{
	const char *dirs[] = { dir, NULL };

	return services_load(dirs, collect);
}

static void assert_warnings(const char *const *want, int n)
{
	bool same = nwarn == n;
	int i;

	for (i = 0; same && i < n; i++)
		same = !strcmp(warnings[i], want[i]);
	if (same)
		return;
	for (i = 0; i < nwarn && i < MAX_WARN; i++)
		print_error("got warning %d: %s\n", i, warnings[i]);
	for (i = 0; i < n; i++)
		print_error("want warning %d: %s\n", i, want[i]);
	fail();
}

static void assert_name(__u8 proto, __u16 port, const char *want)
{
	const char *got = service_name(proto, port);

	if (!want) {
		if (got)
			print_error("proto %u port %u: want NULL, got \"%s\"\n", proto, port, got);
		assert_null(got);
		return;
	}
	if (!got)
		print_error("proto %u port %u: want \"%s\", got NULL\n", proto, port, want);
	assert_non_null(got);
	assert_string_equal(got, want);
}

static struct flow make_flow(__u8 proto, __u16 sport, __u16 dport)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.orig.family = AF_INET;
	f.orig.proto = proto;
	f.orig.sport = sport;
	f.orig.dport = dport;
	return f;
}

static void assert_flow(__u8 proto, __u16 sport, __u16 dport, const char *want, __u16 want_port)
{
	struct flow f = make_flow(proto, sport, dport);
	__u16 port = 12345;
	const char *got = flow_service(&f, &port);

	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
	assert_int_equal(port, want_port);
}

/* Non-comment, non-blank lines of a shipped conf file. */
static int conf_entries(const char *path)
{
	char line[256];
	int n = 0;
	FILE *fp = fopen(path, "r");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] != '#' && line[0] != '\n')
			n++;
	}
	fclose(fp);
	return n;
}

static void test_shipped_conf(void **state)
{
	static const char *const files[] = {
		"conf/tcp.conf", "conf/udp.conf", "conf/udplite.conf", "conf/sctp.conf",
		"conf/dccp.conf",
	};
	int want = 0, n;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		want += conf_entries(files[i]);
	n = load1("conf");
	assert_warnings(NULL, 0);
	/* Every shipped line loads, and there are enough to be useful. */
	assert_int_equal(n, want);
	assert_true(n > 250);

	assert_name(IPPROTO_TCP, 22, "ssh");
	assert_name(IPPROTO_TCP, 443, "https");
	assert_name(IPPROTO_UDP, 443, "https");
	assert_name(IPPROTO_TCP, 53, "dns");
	assert_name(IPPROTO_UDP, 53, "dns");
	assert_name(IPPROTO_UDPLITE, 53, "dns");
	assert_name(IPPROTO_TCP, 5432, "postgresql");
	assert_name(IPPROTO_TCP, 3306, "mysql");
	assert_name(IPPROTO_TCP, 6379, "redis");
	assert_name(IPPROTO_TCP, 27017, "mongodb");
	assert_name(IPPROTO_TCP, 6443, "kube-apiserver");
	assert_name(IPPROTO_TCP, 10250, "kubelet");
	assert_name(IPPROTO_TCP, 2379, "etcd");
	assert_name(IPPROTO_UDP, 51820, "wireguard");
	assert_name(IPPROTO_TCP, 51820, NULL);
	assert_name(IPPROTO_UDP, 500, "ike");
	assert_name(IPPROTO_UDP, 4500, "ipsec-nat-t");
	assert_name(IPPROTO_TCP, 853, "dns-tls");
	assert_name(IPPROTO_UDP, 5353, "mdns");
	assert_name(IPPROTO_UDP, 1900, "ssdp");
	assert_name(IPPROTO_SCTP, 3868, "diameter");
	assert_name(IPPROTO_SCTP, 2905, "m3ua");
	assert_name(IPPROTO_SCTP, 36412, "s1ap");
	assert_name(IPPROTO_SCTP, 38412, "ngap");
	assert_name(IPPROTO_DCCP, 9, "discard");
	assert_name(IPPROTO_ICMP, 80, NULL);
	assert_name(IPPROTO_TCP, 1, NULL);
}

static void test_malformed_lines(void **state)
{
	static const char *const want[] = {
		DATA "/bad/tcp.conf:3: bad port \"https\" (expected PORT NAME, PORT 0-65535)",
		DATA "/bad/tcp.conf:4: port 70000 out of range (0-65535)",
		DATA "/bad/tcp.conf:5: bad port \"-1\" (expected PORT NAME, PORT 0-65535)",
		DATA "/bad/tcp.conf:6: missing service name after port 80",
		DATA "/bad/tcp.conf:7: unexpected text after the service name",
		DATA "/bad/tcp.conf:8: port 99999999999999999999999 out of range (0-65535)",
		DATA "/bad/tcp.conf:9: service name longer than 31 characters",
		DATA "/bad/tcp.conf:17: port 65536 out of range (0-65535)",
		DATA "/bad/tcp.conf:18: bad port \"0x50\" (expected PORT NAME, PORT 0-65535)",
		DATA "/bad/tcp.conf:19: bad port \"+5\" (expected PORT NAME, PORT 0-65535)",
		DATA "/bad/tcp.conf:20: service name has a non-printable or non-ASCII character",
	};

	assert_int_equal(load1(DATA "/bad"), 7);
	assert_warnings(want, sizeof(want) / sizeof(want[0]));
	assert_name(IPPROTO_TCP, 10, "good-before");
	assert_name(IPPROTO_TCP, 25, "good-after");
	assert_name(IPPROTO_TCP, 26, "spaced");
	assert_name(IPPROTO_TCP, 28, "ok");
	/* Exactly 31 characters is the longest name allowed. */
	assert_name(IPPROTO_TCP, 24, "thirty-one-characters-name-abcd");
	assert_name(IPPROTO_TCP, 0, "port-zero");
	assert_name(IPPROTO_TCP, 65535, "port-max");
	/* Bad lines load nothing, not even a part. */
	assert_name(IPPROTO_TCP, 80, NULL);
	assert_name(IPPROTO_TCP, 22, NULL);
	assert_name(IPPROTO_TCP, 23, NULL);
	assert_name(IPPROTO_TCP, 27, NULL);
	assert_name(IPPROTO_TCP, 0x50, NULL);
	assert_name(IPPROTO_TCP, 5, NULL);
	/* Only tcp.conf exists there. */
	assert_name(IPPROTO_UDP, 10, NULL);
}

static void test_warn_null(void **state)
{
	const char *dirs[] = { DATA "/bad", NULL };

	assert_int_equal(services_load(dirs, NULL), 7);
	assert_name(IPPROTO_TCP, 25, "good-after");
}

static void test_override_order(void **state)
{
	const char *base_over[] = { DATA "/base", DATA "/over", NULL };
	const char *over_base[] = { DATA "/over", DATA "/base", NULL };

	/* 22, 80, 8080, udp 53 from base; 9999 new in over; 80 replaced. */
	assert_int_equal(services_load(base_over, collect), 5);
	assert_warnings(NULL, 0);
	assert_name(IPPROTO_TCP, 80, "over-http");
	assert_name(IPPROTO_TCP, 8080, "base-alt");
	assert_name(IPPROTO_TCP, 9999, "over-only");
	assert_name(IPPROTO_UDP, 53, "base-dns");

	assert_int_equal(services_load(over_base, collect), 5);
	assert_name(IPPROTO_TCP, 80, "base-http");
	assert_name(IPPROTO_TCP, 9999, "over-only");
}

static void test_etc_services(void **state)
{
	setenv(ETC_ENV, DATA "/etc-services", 1);
	load1(DATA "/base");
	assert_warnings(NULL, 0);
	/* Conf files win over /etc/services... */
	assert_name(IPPROTO_TCP, 22, "base-ssh");
	assert_name(IPPROTO_TCP, 80, "base-http");
	assert_name(IPPROTO_UDP, 53, "base-dns");
	/* ...which fills the rest, UDP-Lite from the udp entries. */
	assert_name(IPPROTO_TCP, 1, "tcpmux");
	assert_name(IPPROTO_UDP, 22, "ssh");
	assert_name(IPPROTO_TCP, 53, "domain");
	assert_name(IPPROTO_UDPLITE, 53, "domain");
	assert_name(IPPROTO_UDPLITE, 22, "ssh");
	assert_name(IPPROTO_SCTP, 3868, "sctp-svc");
	assert_name(IPPROTO_DCCP, 9, "dccp-svc");
	assert_name(IPPROTO_UDP, 7004, "indented");
	/* First entry for a port wins, as with getservbyport(). */
	assert_name(IPPROTO_TCP, 7000, "first");
	/* Unusable lines are skipped quietly: the file is not ours. */
	assert_name(IPPROTO_TCP, 7001, NULL);
	assert_name(IPPROTO_TCP, 7002, NULL);
	assert_name(IPPROTO_TCP, 7003, NULL);
	assert_name(IPPROTO_TCP, 8, NULL);
	assert_name(IPPROTO_UDP, 8, NULL);
	assert_name(IPPROTO_TCP, 99999 & 0xffff, NULL);
}

static void test_dirs_null_etc_only(void **state)
{
	setenv(ETC_ENV, DATA "/etc-services", 1);
	assert_true(services_load(NULL, collect) > 0);
	assert_warnings(NULL, 0);
	assert_name(IPPROTO_TCP, 80, "etc-http");
	assert_name(IPPROTO_TCP, 22, "ssh");
}

static void test_missing_is_silent(void **state)
{
	const char *dirs[] = { "", DATA "/no-such-dir", DATA "/etc-services", NULL };

	/* A missing dir, a file where a dir should be (ENOTDIR), a missing /etc/services. */
	setenv(ETC_ENV, DATA "/no-such-services", 1);
	assert_int_equal(services_load(dirs, collect), 0);
	assert_warnings(NULL, 0);
	assert_name(IPPROTO_TCP, 80, NULL);
}

static void test_empty_file(void **state)
{
	assert_int_equal(load1(DATA "/empty"), 0);
	assert_warnings(NULL, 0);
}

static void test_no_trailing_newline(void **state)
{
	static const char data[] = "22 ssh\n23 telnet";

	make_tmpdir();
	write_tmp("tcp.conf", data, sizeof(data) - 1);
	assert_int_equal(load1(tmpdir), 2);
	assert_warnings(NULL, 0);
	assert_name(IPPROTO_TCP, 23, "telnet");
}

static void test_crlf(void **state)
{
	static const char data[] = "# dos\r\n22 ssh\r\n\r\n23 telnet # c\r\n24 last\r";
	char want[256];

	make_tmpdir();
	write_tmp("udp.conf", data, sizeof(data) - 1);
	/* A stray CR inside a line is not a line end. */
	write_str("tcp.conf", "25 a\rb\n");
	assert_int_equal(load1(tmpdir), 3);
	snprintf(want, sizeof(want),
		 "%s/tcp.conf:1: service name has a non-printable or non-ASCII character", tmpdir);
	assert_warnings((const char *const[]){ want }, 1);
	assert_name(IPPROTO_UDP, 22, "ssh");
	assert_name(IPPROTO_UDP, 23, "telnet");
	assert_name(IPPROTO_UDP, 24, "last");
}

static void test_garbage(void **state)
{
	static const char data[] = "1 a\n2 b\0c\n\x1b[31m 3\n\xff\xfe\n4 \x1b]0;x\a\n5 e\n";
	char w[5][256];
	char *big;

	make_tmpdir();
	write_tmp("sctp.conf", data, sizeof(data) - 1);
	/* A line far longer than any buffer a reader might use. */
	big = malloc(200001);
	assert_non_null(big);
	memset(big, '7', 200000);
	big[200000] = '\n';
	write_tmp("dccp.conf", big, 200001);
	free(big);

	assert_int_equal(load1(tmpdir), 2);
	snprintf(w[0], sizeof(w[0]), "%s/sctp.conf:2: NUL byte in line", tmpdir);
	snprintf(w[1], sizeof(w[1]),
		 "%s/sctp.conf:3: bad port \"?[31m\" (expected PORT NAME, PORT 0-65535)", tmpdir);
	snprintf(w[2], sizeof(w[2]),
		 "%s/sctp.conf:4: bad port \"??\" (expected PORT NAME, PORT 0-65535)", tmpdir);
	snprintf(w[3], sizeof(w[3]),
		 "%s/sctp.conf:5: service name has a non-printable or non-ASCII character", tmpdir);
	/* An overlong token is cut short in the message. */
	snprintf(w[4], sizeof(w[4]), "%s/dccp.conf:1: port %.36s... out of range (0-65535)",
		 tmpdir, "777777777777777777777777777777777777");
	assert_warnings((const char *const[]){ w[0], w[1], w[2], w[3], w[4] }, 5);
}

static void test_unreadable_dir_as_file(void **state)
{
	char path[256], want[256];

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/tcp.conf", tmpdir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_str("udp.conf", "53 dns\n");
	assert_int_equal(load1(tmpdir), 1);
	snprintf(want, sizeof(want), "%s/tcp.conf: read error: Is a directory", tmpdir);
	assert_warnings((const char *const[]){ want }, 1);
	assert_name(IPPROTO_UDP, 53, "dns");
}

static void test_unreadable_eacces(void **state)
{
	char path[256], want[256];

	if (geteuid() == 0)
		skip();	/* root reads a mode 000 file anyway */
	make_tmpdir();
	write_str("tcp.conf", "22 ssh\n");
	snprintf(path, sizeof(path), "%s/tcp.conf", tmpdir);
	assert_int_equal(chmod(path, 0), 0);
	assert_int_equal(load1(tmpdir), 0);
	snprintf(want, sizeof(want), "%s/tcp.conf: cannot open: Permission denied", tmpdir);
	assert_warnings((const char *const[]){ want }, 1);
}

static void test_too_many_names(void **state)
{
	char want[256];
	size_t cap = 65536 * 16, len = 0;
	char *buf = malloc(cap);
	unsigned int port;

	assert_non_null(buf);
	make_tmpdir();
	/* 65536 distinct names, one more than 16-bit indices (0 = unnamed) can hold. */
	for (port = 0; port < 65536; port++)
		len += snprintf(buf + len, cap - len, "%u n%u\n", port, port);
	write_tmp("tcp.conf", buf, len);
	free(buf);
	write_str("udp.conf", "1 n5\n2 brand-new\n");

	assert_int_equal(load1(tmpdir), 65535 + 1);
	snprintf(want, sizeof(want),
		 "%s/tcp.conf:65536: more than 65535 distinct service names, the rest are ignored",
		 tmpdir);
	/* Said once, not again for udp.conf. */
	assert_warnings((const char *const[]){ want }, 1);
	assert_name(IPPROTO_TCP, 65534, "n65534");
	assert_name(IPPROTO_TCP, 65535, NULL);
	assert_name(IPPROTO_UDP, 1, "n5");
	assert_name(IPPROTO_UDP, 2, NULL);
}

static void test_reload(void **state)
{
	int n = load1("conf");

	assert_true(n > 0);
	assert_name(IPPROTO_TCP, 22, "ssh");
	services_free();
	assert_name(IPPROTO_TCP, 22, NULL);
	services_free();
	assert_int_equal(load1("conf"), n);
	/* Loading again without a free replaces, it does not add. */
	assert_int_equal(load1(DATA "/over"), 2);
	assert_name(IPPROTO_TCP, 22, NULL);
	assert_name(IPPROTO_TCP, 80, "over-http");
}

static void test_no_load(void **state)
{
	struct flow f = make_flow(IPPROTO_TCP, 40000, 443);
	__u16 port;

	assert_name(IPPROTO_TCP, 443, NULL);
	assert_null(flow_service(&f, &port));
	assert_int_equal(port, 443);
}

static void test_flow_client_server(void **state)
{
	load1("conf");
	assert_flow(IPPROTO_TCP, 40000, 443, "https", 443);
	assert_flow(IPPROTO_TCP, 51234, 5432, "postgresql", 5432);
	assert_flow(IPPROTO_UDP, 40000, 53, "dns", 53);
	assert_flow(IPPROTO_UDP, 40000, 443, "https", 443);
	assert_flow(IPPROTO_UDP, 51820, 51820, "wireguard", 51820);
}

static void test_flow_reversed(void **state)
{
	load1("conf");
	/* Orig from the server side (e.g. a flow seen mid-stream): the named port still wins. */
	assert_flow(IPPROTO_TCP, 443, 40000, "https", 443);
	assert_flow(IPPROTO_TCP, 27017, 60000, "mongodb", 27017);
}

static void test_flow_both_named(void **state)
{
	load1("conf");
	/* DHCP: client 68 -> server 67. */
	assert_flow(IPPROTO_UDP, 68, 67, "dhcp", 67);
	/* A well-known dport wins even when the sport is lower. */
	assert_flow(IPPROTO_TCP, 22, 80, "http", 80);
	/* An ephemeral sport that happens to carry a name (33060 mysqlx). */
	assert_flow(IPPROTO_TCP, 33060, 443, "https", 443);
	/* Both above 1024: the lower one. */
	assert_flow(IPPROTO_TCP, 33060, 5432, "postgresql", 5432);
	assert_flow(IPPROTO_TCP, 5432, 33060, "postgresql", 5432);
	assert_flow(IPPROTO_TCP, 6379, 6379, "redis", 6379);
}

static void test_flow_unnamed(void **state)
{
	load1("conf");
	assert_flow(IPPROTO_TCP, 40000, 40001, NULL, 40001);
	assert_flow(IPPROTO_TCP, 40000, 1, NULL, 1);
	assert_flow(IPPROTO_UDP, 0, 0, NULL, 0);
}

static void test_flow_no_ports(void **state)
{
	struct flow f = make_flow(IPPROTO_ICMP, 80, 8 << 8);
	__u16 port = 1;

	load1("conf");
	/* ICMP "ports" are echo id and type/code: never a service. */
	assert_null(flow_service(&f, &port));
	assert_int_equal(port, 0);
	f = make_flow(IPPROTO_ICMPV6, 443, 443);
	assert_null(flow_service(&f, &port));
	f = make_flow(IPPROTO_GRE, 443, 443);
	assert_null(flow_service(&f, &port));
	assert_null(flow_service(NULL, &port));
	assert_int_equal(port, 0);
	/* The port pointer is optional. */
	f = make_flow(IPPROTO_TCP, 40000, 22);
	assert_string_equal(flow_service(&f, NULL), "ssh");
}

static void test_flow_other_protos(void **state)
{
	load1("conf");
	assert_flow(IPPROTO_UDPLITE, 40000, 5060, "sip", 5060);
	assert_flow(IPPROTO_SCTP, 36412, 36412, "s1ap", 36412);
	assert_flow(IPPROTO_SCTP, 40000, 3868, "diameter", 3868);
	assert_flow(IPPROTO_SCTP, 2905, 40000, "m3ua", 2905);
	assert_flow(IPPROTO_DCCP, 40000, 5004, "rtp", 5004);
	/* wireguard is udp-only: nothing for tcp. */
	assert_flow(IPPROTO_TCP, 40000, 51820, NULL, 51820);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shipped_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_warn_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_override_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_etc_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirs_null_etc_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_is_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_trailing_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_dir_as_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_eacces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_client_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_reversed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_both_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_unnamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_no_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_other_protos, setup, teardown),
	};

	return cmocka_run_group_tests_name("services", tests, NULL, NULL);
}
