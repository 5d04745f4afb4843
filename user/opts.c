/* opts.c - command line options (the original flowtop's, plus output modes and views). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "opts.h"

enum {
	OPT_BATCH = 256,
	OPT_ITER,
	OPT_JSON,
	OPT_ONCE,
	OPT_EVENTS,
	OPT_DURATION,
	OPT_NETNS,
	OPT_MODE,
	OPT_PROBE,
	OPT_SORT,
	OPT_REVERSE,
	OPT_FILTER,
	OPT_RCVBUF,
	OPT_NO_SYSCTL,
	OPT_RING,
	OPT_RUNG,
	OPT_CONTAINER,
	OPT_GEOIP_DB,
	OPT_ALL_NETNS,
	OPT_USER,
};

static const struct option long_opts[] = {
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "tcp", no_argument, NULL, 'T' },
	{ "udp", no_argument, NULL, 'U' },
	{ "dccp", no_argument, NULL, 'D' },
	{ "icmp", no_argument, NULL, 'I' },
	{ "sctp", no_argument, NULL, 'S' },
	{ "no-dns", no_argument, NULL, 'n' },
	{ "no-geoip", no_argument, NULL, 'G' },
	{ "show-src", no_argument, NULL, 's' },
	{ "bits", no_argument, NULL, 'b' },
	{ "interval", required_argument, NULL, 't' },
	{ "update", no_argument, NULL, 'u' },
	{ "version", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "batch", no_argument, NULL, OPT_BATCH },
	{ "iterations", required_argument, NULL, OPT_ITER },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "events", optional_argument, NULL, OPT_EVENTS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "all-netns", no_argument, NULL, OPT_ALL_NETNS },
	{ "user", required_argument, NULL, OPT_USER },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "probe", no_argument, NULL, OPT_PROBE },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "reverse", no_argument, NULL, OPT_REVERSE },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "rcvbuf", required_argument, NULL, OPT_RCVBUF },
	{ "no-sysctl", no_argument, NULL, OPT_NO_SYSCTL },
	{ "ring-size", required_argument, NULL, OPT_RING },
	{ "rung-limit", required_argument, NULL, OPT_RUNG },
	{ "container", required_argument, NULL, OPT_CONTAINER },
	{ "geoip-db", required_argument, NULL, OPT_GEOIP_DB },
	{ NULL, 0, NULL, 0 },
};

static const char *const sort_names[SORT_MAX] = {
	[SORT_RATE] = "rate", [SORT_BYTES] = "bytes", [SORT_AGE] = "age",
	[SORT_PROCESS] = "process", [SORT_DEST] = "dest", [SORT_PROTO] = "proto",
};

const char *sort_key_name(enum sort_key k)
{
	return k < SORT_MAX ? sort_names[k] : "?";
}

void opts_usage(FILE *out)
{
	fprintf(out,
		"Usage: flowtop [options]\n"
		"Top-like view of the network flows netfilter conntrack tracks.\n"
		"\n"
		"Which flows (default: all protocols, IPv4 and IPv6):\n"
		"  -4, --ipv4            IPv4 flows\n"
		"  -6, --ipv6            IPv6 flows\n"
		"  -T, --tcp             TCP flows\n"
		"  -U, --udp             UDP and UDP-Lite flows\n"
		"  -D, --dccp            DCCP flows\n"
		"  -I, --icmp            ICMP and ICMPv6 flows\n"
		"  -S, --sctp            SCTP flows\n"
		"      --filter TEXT     only flows whose process, address or port match TEXT\n"
		"                        (\"pid:N\" for one process)\n"
		"      --container TEXT  only flows of containers whose label contains TEXT\n"
		"                        (docker:ID, podman:ID, containerd:ID, cri-o:ID,\n"
		"                        k8s-pod:UID, NAME.service, user:UID; \"-\" for none)\n"
		"\n"
		"Display:\n"
		"  -s, --show-src        also show the source row of each flow\n"
		"  -b, --bits            rates in bits per second instead of bytes\n"
		"  -n, --no-dns          no reverse DNS lookups (numeric addresses)\n"
		"  -G, --no-geoip        no GeoIP lookups\n"
		"      --geoip-db PATH   a GeoIP2/GeoLite2 .mmdb file or a directory of them\n"
		"                        (repeatable; default: the locations in geoip.conf)\n"
		"  -t, --interval SECS   refresh interval in seconds (default 1, fractions allowed)\n"
		"      --sort KEY        rate, bytes, age, process, dest or proto (default rate)\n"
		"      --reverse         reverse the sort order\n"
		"\n"
		"Output (default: interactive ncurses view):\n"
		"      --batch           plain-text snapshots, one per interval\n"
		"      --iterations N    stop after N snapshots (--batch, --json)\n"
		"      --json --once     one JSON line per flow, then a summary line\n"
		"      --json --events   one JSON line per flow event (new, update, destroy)\n"
		"      --events=TYPES    only these events, e.g. --events=new,destroy\n"
		"      --duration SECS   stop after SECS (--json --events, --batch)\n"
		"\n"
		"Source:\n"
		"      --netns NAME|PATH watch another network namespace (ip netns name or\n"
		"                        a path such as /proc/PID/ns/net)\n"
		"      --all-netns       watch this namespace and every other one found\n"
		"                        (/run/netns, /proc/*/ns/net), also those made later\n"
		"      --mode MODE       auto, ebpf or conntrack (default auto)\n"
		"      --user NAME       run as this user once set up (keeps the few\n"
		"                        capabilities still needed; see PRIVILEGES in flowtop(8))\n"
		"      --probe           print the attribution decision per hook and exit\n"
		"      --rcvbuf BYTES    conntrack event socket buffer (default 8M, grows on loss)\n"
		"      --ring-size BYTES eBPF ring buffer size (power of two, default 8M)\n"
		"      --rung-limit RUNG use no probe rung better than RUNG (fentry, kprobe,\n"
		"                        tp_btf, raw_tp, cgroup, netfilter); for testing\n"
		"      --no-sysctl       leave nf_conntrack_acct and nf_conntrack_timestamp alone\n"
		"\n"
		"  -u, --update          explain how to get GeoIP databases\n"
		"  -v, --version         print the version and exit\n"
		"  -h, --help            print this help and exit\n");
}

static int parse_seconds(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "new,destroy" -> EVENT_NEW | EVENT_DESTROY; -1 on an unknown or empty name. */
static int parse_event_types(const char *s, unsigned int *out)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} names[] = { { "new", EVENT_NEW }, { "update", EVENT_UPDATE }, { "destroy", EVENT_DESTROY } };
	const size_t nnames = sizeof(names) / sizeof(names[0]);
	unsigned int mask = 0;

	for (;;) {
		size_t len = strcspn(s, ",");
		size_t i;

		for (i = 0; i < nnames; i++)
			if (strlen(names[i].name) == len && !strncmp(s, names[i].name, len))
				break;
		if (i == nnames)
			return -1;
		mask |= names[i].bit;
		if (!s[len])
			break;
		s += len + 1;
	}
	*out = mask;
	return 0;
}

int opts_parse(int argc, char **argv, struct opts *o, char *err, size_t errlen)
{
	unsigned int fam = 0, protos = 0;
	bool json = false, once = false, events = false, batch = false;
	double d;
	long l;
	int c;

	memset(o, 0, sizeof(*o));
	o->event_types = EVENT_ALL;
	o->interval = 1.0;
	o->rcvbuf = 8u << 20;
	o->sort = SORT_RATE;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":46TUDISnGsbt:uvh", long_opts, NULL)) != -1) {
		switch (c) {
		case '4': fam |= SHOW_IPV4; break;
		case '6': fam |= SHOW_IPV6; break;
		case 'T': protos |= SHOW_TCP; break;
		case 'U': protos |= SHOW_UDP; break;
		case 'D': protos |= SHOW_DCCP; break;
		case 'I': protos |= SHOW_ICMP; break;
		case 'S': protos |= SHOW_SCTP; break;
		case 'n': o->no_dns = true; break;
		case 'G': o->no_geoip = true; break;
		case 's': o->show_src = true; break;
		case 'b': o->bits = true; break;
		case 't':
			if (parse_seconds(optarg, 0.05, 3600, &o->interval) < 0) {
				snprintf(err, errlen,
					 "invalid interval '%s': give seconds between 0.05 and 3600",
					 optarg);
				return -1;
			}
			break;
		case 'u':
			printf("flowtop reads GeoIP2/GeoLite2 databases (.mmdb). To get and update them,\n"
			       "install geoipupdate (Debian: apt-get install geoipupdate), put your\n"
			       "MaxMind account id and licence key in /etc/GeoIP.conf and run\n"
			       "geoipupdate; databases land in /var/lib/GeoIP, where flowtop finds them.\n");
			return 1;
		case 'v':
			printf("flowtop %s\n", FLOWTOP_VERSION);
			return 1;
		case 'h':
			opts_usage(stdout);
			return 1;
		case OPT_BATCH: batch = true; break;
		case OPT_JSON: json = true; break;
		case OPT_ONCE: once = true; break;
		case OPT_EVENTS:
			events = true;
			o->event_types = EVENT_ALL;
			if (optarg && parse_event_types(optarg, &o->event_types) < 0) {
				snprintf(err, errlen, "invalid --events '%s': give a list of new, "
					 "update and destroy", optarg);
				return -1;
			}
			break;
		case OPT_ITER:
			if (parse_long(optarg, 1, 1000000000L, &o->iterations) < 0) {
				snprintf(err, errlen, "invalid --iterations '%s': give a count >= 1",
					 optarg);
				return -1;
			}
			break;
		case OPT_DURATION:
			if (parse_seconds(optarg, 0.001, 31536000, &d) < 0) {
				snprintf(err, errlen, "invalid --duration '%s': give seconds > 0",
					 optarg);
				return -1;
			}
			o->duration_ms = (long)(d * 1000.0);
			break;
		case OPT_NETNS:
			if (!*optarg) {
				snprintf(err, errlen, "--netns needs a name or a path");
				return -1;
			}
			o->netns = optarg;
			break;
		case OPT_ALL_NETNS:
			o->all_netns = true;
			break;
		case OPT_USER:
			if (!*optarg) {
				snprintf(err, errlen, "--user needs a user name or uid");
				return -1;
			}
			o->user = optarg;
			break;
		case OPT_MODE:
			if (!strcmp(optarg, "auto"))
				o->mode = RUN_AUTO;
			else if (!strcmp(optarg, "ebpf"))
				o->mode = RUN_EBPF;
			else if (!strcmp(optarg, "conntrack"))
				o->mode = RUN_CONNTRACK;
			else {
				snprintf(err, errlen,
					 "invalid --mode '%s': use auto, ebpf or conntrack", optarg);
				return -1;
			}
			break;
		case OPT_PROBE: o->probe = true; break;
		case OPT_SORT: {
			int k;

			for (k = 0; k < SORT_MAX; k++)
				if (!strcmp(optarg, sort_names[k]))
					break;
			if (k == SORT_MAX) {
				snprintf(err, errlen,
					 "invalid --sort '%s': use rate, bytes, age, process, dest or proto",
					 optarg);
				return -1;
			}
			o->sort = (enum sort_key)k;
			break;
		}
		case OPT_REVERSE: o->reverse = true; break;
		case OPT_FILTER:
			if (strlen(optarg) >= sizeof(o->filter)) {
				snprintf(err, errlen, "--filter text is too long (max %zu)",
					 sizeof(o->filter) - 1);
				return -1;
			}
			snprintf(o->filter, sizeof(o->filter), "%s", optarg);
			break;
		case OPT_GEOIP_DB:
			if (o->n_geoip_db >= OPTS_GEOIP_MAX) {
				snprintf(err, errlen, "at most %d --geoip-db options", OPTS_GEOIP_MAX);
				return -1;
			}
			o->geoip_db[o->n_geoip_db++] = optarg;
			break;
		case OPT_CONTAINER:
			if (!*optarg) {
				snprintf(err, errlen,
					 "--container needs a label such as docker:0123456789ab");
				return -1;
			}
			if (strlen(optarg) >= sizeof(o->container)) {
				snprintf(err, errlen, "--container text is too long (max %zu)",
					 sizeof(o->container) - 1);
				return -1;
			}
			snprintf(o->container, sizeof(o->container), "%s", optarg);
			break;
		case OPT_RCVBUF:
			if (parse_long(optarg, 4096, 1L << 30, &l) < 0) {
				snprintf(err, errlen,
					 "invalid --rcvbuf '%s': give bytes between 4096 and 1073741824",
					 optarg);
				return -1;
			}
			o->rcvbuf = (unsigned int)l;
			break;
		case OPT_NO_SYSCTL: o->no_sysctl = true; break;
		case OPT_RING:
			if (parse_long(optarg, 4096, 1L << 30, &l) < 0 || (l & (l - 1))) {
				snprintf(err, errlen,
					 "invalid --ring-size '%s': give a power of two between 4096 "
					 "and 1073741824", optarg);
				return -1;
			}
			o->ring_bytes = (unsigned int)l;
			break;
		case OPT_RUNG: {
			static const char *const rungs[] = { "fentry", "kprobe", "tp_btf", "raw_tp",
							     "cgroup", "netfilter" };
			int k;

			for (k = 0; k < 6; k++)
				if (!strcmp(optarg, rungs[k]))
					break;
			if (k == 6) {
				snprintf(err, errlen,
					 "invalid --rung-limit '%s': use fentry, kprobe, tp_btf, raw_tp, "
					 "cgroup or netfilter", optarg);
				return -1;
			}
			o->rung_limit = k + 1;	/* enum attr_rung: RUNG_FENTRY = 1 ... */
			break;
		}
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return -1;
		default:
			if (optopt)
				snprintf(err, errlen, "unknown option '-%c' (see flowtop --help)", optopt);
			else
				snprintf(err, errlen, "unknown option '%s' (see flowtop --help)",
					 argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see flowtop --help)", argv[optind]);
		return -1;
	}
	if ((once || events) && !json) {
		snprintf(err, errlen, "--once and --events go with --json");
		return -1;
	}
	if (json && once && events) {
		snprintf(err, errlen, "choose one of --once and --events");
		return -1;
	}
	if (json && batch) {
		snprintf(err, errlen, "choose one of --batch and --json");
		return -1;
	}
	if (o->all_netns && o->netns) {
		snprintf(err, errlen, "choose one of --netns and --all-netns");
		return -1;
	}
	if (o->iterations && !batch && !json) {
		snprintf(err, errlen, "--iterations goes with --batch or --json");
		return -1;
	}
	if (batch)
		o->out = OUT_BATCH;
	else if (json && events)
		o->out = OUT_JSON_EVENTS;
	else if (json)
		o->out = OUT_JSON_ONCE;	/* --json alone: snapshots; --once: exactly one */
	if (json && once)
		o->iterations = 1;
	o->show = (fam ? fam : SHOW_FAMILIES) | (protos ? protos : SHOW_PROTOS);
	return 0;
}
