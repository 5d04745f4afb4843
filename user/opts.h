/* opts.h - command line options. */
#ifndef FLOWTOP_OPTS_H
#define FLOWTOP_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model.h"

/* The flow events --json --events prints (each one the kernel also has to build). */
enum event_type_mask {
	EVENT_NEW = 1,
	EVENT_UPDATE = 2,
	EVENT_DESTROY = 4,
	EVENT_ALL = 7,
};

enum out_mode {
	OUT_UI = 0,
	OUT_BATCH,
	OUT_JSON_ONCE,
	OUT_JSON_EVENTS,
};

enum run_mode {
	RUN_AUTO = 0,
	RUN_EBPF,
	RUN_CONNTRACK,
};

struct opts {
	unsigned int show;		/* enum show_mask */
	bool show_src;
	bool bits;
	bool no_dns;
	bool no_geoip;
	bool no_sysctl;			/* do not touch nf_conntrack_acct/timestamp */
	bool probe;			/* --probe: print the attribution decision and exit */
	double interval;		/* seconds */
	long iterations;		/* --batch/--json: 0 = forever */
	long duration_ms;		/* --json --events: stop after this long, 0 = never */
	unsigned int event_types;	/* --events=TYPES: enum event_type_mask */
	enum out_mode out;
	enum run_mode mode;
	unsigned int rcvbuf;		/* event socket buffer, bytes */
	unsigned int ring_bytes;	/* eBPF ring buffer, bytes (0 = default) */
	int rung_limit;			/* eBPF: no rung better than this (enum attr_rung) */
	const char *netns;		/* NAME or PATH */
	bool all_netns;			/* --all-netns: every namespace of the machine */
	const char *user;		/* --user NAME|UID: switch to it after set-up */
	enum sort_key sort;
	bool reverse;
	char filter[128];
	char container[64];		/* --container: label substring, "-" = none */
#define OPTS_GEOIP_MAX 8
	const char *geoip_db[OPTS_GEOIP_MAX + 1];	/* --geoip-db PATH (repeatable), NULL-ended */
	int n_geoip_db;
};

/*
 * Parse argv. Returns 0 to run, 1 when it printed help/version (exit 0),
 * -1 on a bad option with one line in err (exit 2).
 */
int opts_parse(int argc, char **argv, struct opts *o, char *err, size_t errlen);
void opts_usage(FILE *out);
const char *sort_key_name(enum sort_key k);

#endif
