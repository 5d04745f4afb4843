/* objs: opts */
/* test_opts.c - command line parsing: the original's options, output modes, bad values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "opts.h"

static int parse(struct opts *o, char *err, const char *a1, const char *a2, const char *a3)
{
	char *argv[5] = { "flowtop", (char *)a1, (char *)a2, (char *)a3, NULL };
	int argc = 1 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);

	err[0] = 0;
	return opts_parse(argc, argv, o, err, 256);
}

static void test_defaults(void **state)
{
	struct opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, NULL, NULL, NULL), 0);
	assert_int_equal(o.out, OUT_UI);
	assert_true(o.interval == 1.0);
	assert_int_equal(o.show, SHOW_FAMILIES | SHOW_PROTOS);
	assert_int_equal(o.sort, SORT_RATE);
}

static void test_original_flags(void **state)
{
	struct opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "-46UTDISs", "-b", "-nG"), 0);
	assert_int_equal(o.show, SHOW_FAMILIES | SHOW_TCP | SHOW_UDP | SHOW_DCCP | SHOW_ICMP |
					 SHOW_SCTP);
	assert_true(o.show_src && o.bits && o.no_dns && o.no_geoip);
	assert_int_equal(parse(&o, err, "-4", "-U", NULL), 0);
	assert_int_equal(o.show, SHOW_IPV4 | SHOW_UDP);
	assert_int_equal(parse(&o, err, "-t", "0.25", NULL), 0);
	assert_true(o.interval == 0.25);
	assert_int_equal(parse(&o, err, "--interval=2", NULL, NULL), 0);
	assert_true(o.interval == 2.0);
}

static void test_output_modes(void **state)
{
	struct opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "--json", "--once", NULL), 0);
	assert_int_equal(o.out, OUT_JSON_ONCE);
	assert_int_equal(o.iterations, 1);
	assert_int_equal(parse(&o, err, "--json", "--events", "--duration=2.5"), 0);
	assert_int_equal(o.out, OUT_JSON_EVENTS);
	assert_int_equal(o.duration_ms, 2500);
	assert_int_equal(o.event_types, EVENT_ALL);
	assert_int_equal(parse(&o, err, "--json", "--events=destroy", NULL), 0);
	assert_int_equal(o.out, OUT_JSON_EVENTS);
	assert_int_equal(o.event_types, EVENT_DESTROY);
	assert_int_equal(parse(&o, err, "--json", "--events=destroy,new", NULL), 0);
	assert_int_equal(o.event_types, EVENT_NEW | EVENT_DESTROY);
	assert_int_equal(parse(&o, err, "--json", "--events=new,update,destroy", NULL), 0);
	assert_int_equal(o.event_types, EVENT_ALL);
	assert_int_equal(parse(&o, err, "--json", "--events=destroy", "--events"), 0);
	assert_int_equal(o.event_types, EVENT_ALL);
	assert_int_equal(parse(&o, err, "--json", "--events=delete", NULL), -1);
	assert_non_null(strstr(err, "invalid --events 'delete'"));
	assert_int_equal(parse(&o, err, "--json", "--events=new,", NULL), -1);
	assert_int_equal(parse(&o, err, "--json", "--events=", NULL), -1);
	assert_int_equal(parse(&o, err, "--events=new", NULL, NULL), -1);
	assert_int_equal(parse(&o, err, "--batch", "--iterations", "3"), 0);
	assert_int_equal(o.out, OUT_BATCH);
	assert_int_equal(o.iterations, 3);
	assert_int_equal(parse(&o, err, "--netns", "blue", "--mode=conntrack"), 0);
	assert_string_equal(o.netns, "blue");
	assert_int_equal(o.mode, RUN_CONNTRACK);
	assert_int_equal(parse(&o, err, "--sort", "bytes", "--reverse"), 0);
	assert_int_equal(o.sort, SORT_BYTES);
	assert_true(o.reverse);
}

static void test_container(void **state)
{
	struct opts o;
	char err[256], big[80];

	(void)state;
	assert_int_equal(parse(&o, err, NULL, NULL, NULL), 0);
	assert_string_equal(o.container, "");
	assert_int_equal(parse(&o, err, "--container", "docker:0123456789ab", NULL), 0);
	assert_string_equal(o.container, "docker:0123456789ab");
	assert_int_equal(parse(&o, err, "--container=-", "--batch", NULL), 0);
	assert_string_equal(o.container, "-");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(&o, err, "--container", big, NULL), -1);
	assert_string_equal(err, "--container text is too long (max 63)");
	assert_int_equal(parse(&o, err, "--container", "", NULL), -1);
	assert_null(strchr(err, '\n'));
	assert_int_equal(parse(&o, err, "--container", NULL, NULL), -1);
	assert_string_equal(err, "option '--container' needs a value");
}

static void test_bad(void **state)
{
	struct opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "-t", "0", NULL), -1);
	assert_non_null(strstr(err, "invalid interval '0'"));
	assert_int_equal(parse(&o, err, "-t", "abc", NULL), -1);
	assert_non_null(strstr(err, "invalid interval 'abc'"));
	assert_int_equal(parse(&o, err, "-t", "1e999", NULL), -1);
	assert_int_equal(parse(&o, err, "-t", "nan", NULL), -1);
	assert_int_equal(parse(&o, err, "-x", NULL, NULL), -1);
	assert_string_equal(err, "unknown option '-x' (see flowtop --help)");
	assert_int_equal(parse(&o, err, "--frobnicate", NULL, NULL), -1);
	assert_string_equal(err, "unknown option '--frobnicate' (see flowtop --help)");
	assert_int_equal(parse(&o, err, "-t", NULL, NULL), -1);
	assert_string_equal(err, "option '-t' needs a value");
	assert_int_equal(parse(&o, err, "--once", NULL, NULL), -1);
	assert_int_equal(parse(&o, err, "--json", "--batch", NULL), -1);
	assert_int_equal(parse(&o, err, "--mode", "fast", NULL), -1);
	assert_int_equal(parse(&o, err, "--sort", "color", NULL), -1);
	assert_int_equal(parse(&o, err, "--iterations", "0", "--batch"), -1);
	assert_int_equal(parse(&o, err, "--rcvbuf", "12", NULL), -1);
	assert_int_equal(parse(&o, err, "stray", NULL, NULL), -1);
	assert_null(strchr(err, '\n'));	/* one line */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_original_flags),
		cmocka_unit_test(test_output_modes),
		cmocka_unit_test(test_container),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
