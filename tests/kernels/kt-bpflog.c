/*
 * kt-bpflog - load one program of flowtop's BPF object alone and print the verifier's log.
 *
 *   kt-bpflog OBJECT PROGRAM [LINES]
 *
 * For the kernel matrix: when `flowtop --probe` refuses a rung with "load: ...", this
 * shows why (flowtop keeps only libbpf's last line). OBJECT is build/bpf/attr.bpf.o,
 * PROGRAM a function name such as ft_nf or ft_listen_sockops. The program named ft_nf is
 * given the netfilter type by hand, as flowtop does (libbpf 1.1 does not know the section).
 * Prints the last LINES (default 25) lines of the log and "load: ok" or "load: error N".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#define LOG_SIZE (16u << 20)
#define FT_PROG_TYPE_NETFILTER 32
#define FT_ATTACH_NETFILTER 45

static int print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stdout, fmt, ap);
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *p, *want = NULL;
	char *log;
	int err, lines = argc > 3 ? atoi(argv[3]) : 25;

	if (argc < 3) {
		fprintf(stderr, "usage: kt-bpflog OBJECT PROGRAM [LINES]\n");
		return 2;
	}
	libbpf_set_print(print);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		printf("open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(p, obj) {
		bpf_program__set_autoload(p, false);
		if (!strcmp(bpf_program__name(p), argv[2]))
			want = p;
	}
	if (!want) {
		printf("no program %s in %s\n", argv[2], argv[1]);
		return 1;
	}
	log = calloc(1, LOG_SIZE);
	if (!log)
		return 1;
	if (!strcmp(argv[2], "ft_nf")) {
		bpf_program__set_type(want, FT_PROG_TYPE_NETFILTER);
		bpf_program__set_expected_attach_type(want, FT_ATTACH_NETFILTER);
	}
	bpf_program__set_autoload(want, true);
	bpf_program__set_log_buf(want, log, LOG_SIZE);
	bpf_program__set_log_level(want, 1);
	{
		struct bpf_map *m = bpf_object__find_map_by_name(obj, "events");

		if (m)
			bpf_map__set_max_entries(m, 4096 * 4);
	}
	err = bpf_object__load(obj);
	{
		/* the tail of the log: where the verifier stopped */
		size_t n = strlen(log);
		int seen = 0;
		char *s = log + n;

		while (s > log && seen <= lines) {
			s--;
			if (*s == '\n')
				seen++;
		}
		if (seen > lines)
			s++;
		fputs(s, stdout);
		if (n && log[n - 1] != '\n')
			putchar('\n');
	}
	if (err)
		printf("load: error %d (%s)\n", err, strerror(-err));
	else
		printf("load: ok\n");
	bpf_object__close(obj);
	free(log);
	return err ? 1 : 0;
}
