/* output.c - the non-interactive renderers: JSON lines and plain-text batch snapshots. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "attr_ebpf.h"
#include "caps.h"
#include "cgroup.h"
#include "container.h"
#include "dest.h"
#include "geoip.h"
#include "dnscap.h"
#include "names.h"
#include "rdns.h"
#include "fmt.h"
#include "output.h"
#include "services.h"

#define EXE_CACHE 1024

static struct {
	__u32 pid;
	char comm[FLOW_COMM_LEN];
	char exe[256];
	int ok;
} exe_cache[EXE_CACHE];

const char *proc_exe(__u32 pid, const char *comm)
{
	unsigned int i = pid % EXE_CACHE;
	char path[64], c[FLOW_COMM_LEN + 2] = "";
	ssize_t n;
	FILE *f;

	if (!pid)
		return NULL;
	if (exe_cache[i].pid == pid && !strcmp(exe_cache[i].comm, comm))
		return exe_cache[i].ok ? exe_cache[i].exe : NULL;
	exe_cache[i].pid = pid;
	snprintf(exe_cache[i].comm, sizeof(exe_cache[i].comm), "%s", comm);
	exe_cache[i].ok = 0;
	/* Only a process that still has the same name is the one that made the flow. */
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	if (!fgets(c, sizeof(c), f))
		c[0] = 0;
	fclose(f);
	c[strcspn(c, "\n")] = 0;
	if (strcmp(c, comm))
		return NULL;
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, exe_cache[i].exe, sizeof(exe_cache[i].exe) - 1);
	if (n <= 0)
		return NULL;
	exe_cache[i].exe[n] = 0;
	exe_cache[i].ok = 1;
	return exe_cache[i].exe;
}

/* A JSON string from untrusted bytes: sanitized to printable UTF-8, then escaped. */
static void json_str(FILE *out, const char *s, size_t len)
{
	char clean[512];

	if (!s) {
		fputs("null", out);
		return;
	}
	fmt_sanitize(clean, sizeof(clean), s, len);
	fputc('"', out);
	for (const char *p = clean; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

static void json_key_str(FILE *out, const char *key, const char *s)
{
	fprintf(out, ",\"%s\":", key);
	json_str(out, s, s ? strlen(s) : 0);
}

static void json_addr(FILE *out, const char *key, __u8 family, const __u8 *addr)
{
	char b[FMT_ADDR_LEN];

	fprintf(out, ",\"%s\":\"%s\"", key, fmt_addr(b, sizeof(b), family, addr));
}

static bool is_icmp(__u8 proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

static void json_ports(FILE *out, const char *sk, const char *dk, const struct flow_tuple *t)
{
	if (proto_has_ports(t->proto))
		fprintf(out, ",\"%s\":%u,\"%s\":%u", sk, t->sport, dk, t->dport);
	else
		fprintf(out, ",\"%s\":null,\"%s\":null", sk, dk);
}

static void json_double(FILE *out, const char *key, double v)
{
	if (isfinite(v))
		fprintf(out, ",\"%s\":%.3f", key, v);
	else
		fprintf(out, ",\"%s\":null", key);
}

/* Location of an address: null without databases; private ranges are named, not looked up. */
static void json_geo(FILE *out, const char *key, __u8 family, const __u8 *addr)
{
	struct geo_info g;

	if (!geoip_available()) {
		fprintf(out, ",\"%s\":null", key);
		return;
	}
	if (geoip_lookup(family, addr, &g) < 0) {
		fprintf(out, ",\"%s\":null", key);
		return;
	}
	if (g.scope != GEO_PUBLIC) {
		fprintf(out, ",\"%s\":{\"scope\":\"%s\"}", key, geo_scope_name(g.scope));
		return;
	}
	fprintf(out, ",\"%s\":{", key);
	fputs("\"country\":", out);
	json_str(out, g.country[0] ? g.country : NULL, strlen(g.country));
	fputs(",\"country_name\":", out);
	json_str(out, g.country_name[0] ? g.country_name : NULL, strlen(g.country_name));
	fputs(",\"city\":", out);
	json_str(out, g.city[0] ? g.city : NULL, strlen(g.city));
	if (g.asn)
		fprintf(out, ",\"asn\":%u", g.asn);
	else
		fputs(",\"asn\":null", out);
	fputs(",\"org\":", out);
	json_str(out, g.org[0] ? g.org : NULL, strlen(g.org));
	fputc('}', out);
}

/* "KEY":"name","KEY_from":"dns"|"ptr" (nulls when there is none); names are plain ASCII. */
static void json_name(FILE *out, const char *key, const struct flow *f, const __u8 *addr)
{
	enum name_from from;
	const char *n = names_of(f, addr, &from);

	json_key_str(out, key, n);
	if (n)
		fprintf(out, ",\"%s_from\":\"%s\"", key, name_from_str(from));
	else
		fprintf(out, ",\"%s_from\":null", key);
}

void json_flow(FILE *out, const struct app *a, const char *type, const struct flow *f)
{
	const char *st = state_name(f->orig.proto, f->state);
	const char *words[20];
	char pbuf[8];
	size_t nw;
	__u16 port;
	const char *svc;
	bool exact;
	double age;

	fprintf(out, "{\"type\":\"%s\",\"id\":%u,\"family\":\"%s\"", type, f->id,
		family_name(f->orig.family));
	if (proto_name(f->orig.proto))
		fprintf(out, ",\"proto\":\"%s\"", proto_str(pbuf, sizeof(pbuf), f->orig.proto));
	else
		fprintf(out, ",\"proto\":%u", f->orig.proto);
	if (st)
		fprintf(out, ",\"state\":\"%s\"", st);
	else
		fputs(",\"state\":null", out);
	json_addr(out, "src", f->orig.family, f->orig.src);
	json_addr(out, "dst", f->orig.family, f->orig.dst);
	json_ports(out, "sport", "dport", &f->orig);
	if (is_icmp(f->orig.proto))
		fprintf(out, ",\"icmp_type\":%u,\"icmp_code\":%u,\"icmp_id\":%u",
			f->orig.dport >> 8, f->orig.dport & 0xff, f->orig.sport);
	json_addr(out, "reply_src", f->reply.family, f->reply.src);
	json_addr(out, "reply_dst", f->reply.family, f->reply.dst);
	json_ports(out, "reply_sport", "reply_dport", &f->reply);
	if (f->flags & FLOW_F_ACCT)
		fprintf(out,
			",\"orig_packets\":%llu,\"orig_bytes\":%llu,\"reply_packets\":%llu,"
			"\"reply_bytes\":%llu",
			(unsigned long long)f->orig_pkts, (unsigned long long)f->orig_bytes,
			(unsigned long long)f->reply_pkts, (unsigned long long)f->reply_bytes);
	else
		fputs(",\"orig_packets\":null,\"orig_bytes\":null,\"reply_packets\":null,"
		      "\"reply_bytes\":null",
		      out);
	if (f->flags & FLOW_F_TSTAMP)
		fprintf(out, ",\"start\":%.6f", (double)f->start_ns / 1e9);
	else
		fputs(",\"start\":null", out);
	age = flow_age(&a->model, f, &exact);
	json_double(out, "age_s", age);
	fprintf(out, ",\"age_exact\":%s", exact ? "true" : "false");
	if (f->flags & FLOW_F_RATE) {
		json_double(out, "rate_orig_Bps", f->rate_orig);
		json_double(out, "rate_reply_Bps", f->rate_reply);
	} else {
		fputs(",\"rate_orig_Bps\":null,\"rate_reply_Bps\":null", out);
	}
	if (f->owner.pid) {
		fprintf(out, ",\"pid\":%u,\"tid\":%u", f->owner.pid, f->owner.tid);
		json_key_str(out, "comm", f->owner.comm);
		json_key_str(out, "exe", proc_exe(f->owner.pid, f->owner.comm));
	} else {
		fputs(",\"pid\":null,\"tid\":null,\"comm\":null,\"exe\":null", out);
	}
	if (f->owner.uid != (__u32)-1 && f->owner.source)
		fprintf(out, ",\"uid\":%u", f->owner.uid);
	else
		fputs(",\"uid\":null", out);
	if (f->owner.cgroup_id) {
		const char *cid = model_container_id(&a->model, f->owner.cgroup_id);
		const char *cname = model_container_name(&a->model, f->owner.cgroup_id);

		fprintf(out, ",\"cgroup_id\":%llu", (unsigned long long)f->owner.cgroup_id);
		json_key_str(out, "cgroup", cgroup_path(f->owner.cgroup_id));
		/* only a layout flowtop knows names a container: never a guess */
		json_key_str(out, "container", cid[0] ? cid : NULL);
		json_key_str(out, "container_name", cname[0] ? cname : NULL);
	} else {
		fputs(",\"cgroup_id\":null,\"cgroup\":null,\"container\":null,"
		      "\"container_name\":null", out);
	}
	fprintf(out, ",\"netns\":%u", f->netns);
	json_key_str(out, "netns_name", app_netns_name(a, f->netns));
	switch (f->owner.source) {
	case FLOW_ATTR_EBPF: fputs(",\"attr\":\"ebpf\"", out); break;
	case FLOW_ATTR_SOCKDIAG: fputs(",\"attr\":\"sockdiag\"", out); break;
	case FLOW_ATTR_PROC: fputs(",\"attr\":\"proc\"", out); break;
	default: fputs(",\"attr\":null", out); break;
	}
	json_name(out, "src_name", f, f->orig.src);
	json_name(out, "dst_name", f, f->orig.dst);
	json_geo(out, "src_geo", f->orig.family, f->orig.src);
	json_geo(out, "dst_geo", f->orig.family, f->orig.dst);
	svc = flow_service(f, &port);
	json_key_str(out, "service", svc);
	fprintf(out, ",\"mark\":%u,\"zone\":%u,\"status\":[", f->mark, f->zone);
	nw = status_words(f->status, words, 20);
	for (size_t i = 0; i < nw; i++)
		fprintf(out, "%s\"%s\"", i ? "," : "", words[i]);
	fputc(']', out);
	if (f->timeout && !(f->flags & FLOW_F_GONE))
		fprintf(out, ",\"timeout\":%u", f->timeout);
	else
		fputs(",\"timeout\":null", out);
	fprintf(out, ",\"closed\":%s", (f->flags & FLOW_F_GONE) ? "true" : "false");
	fputs("}\n", out);
}

static const char *tracking_word(enum tracking_state t)
{
	switch (t) {
	case TRACKING_ACTIVE: return "active";
	case TRACKING_INACTIVE: return "inactive";
	case TRACKING_ABSENT: return "absent";
	default: return "unknown";
	}
}

void json_summary(FILE *out, const struct app *a)
{
	const struct ct_stats *cs = a->ct ? ct_stats(a->ct) : NULL;
	size_t live = 0, slots = ft_slots(a->model.ft);

	for (size_t s = 0; s < slots; s++) {
		struct flow *f = ft_slot(a->model.ft, s);

		if (f && !(f->flags & FLOW_F_GONE) && model_match(&a->model, f, &a->view))
			live++;
	}
	fprintf(out, "{\"type\":\"summary\",\"flows\":%zu,\"mode\":\"%s\",\"probes\":{", live,
		a->mode);
	if (!strcmp(a->mode, "ebpf")) {
		const struct attr_probe *pr = attr_ebpf_probed();
		struct attr_ebpf_stats st;

		for (int h = 0; h < HOOK_MAX; h++)
			fprintf(out, "%s\"%s\":\"%s\"", h ? "," : "", attr_hook_name(h),
				attr_rung_name(pr->rung[h]));
		attr_ebpf_stats(&st);
		fprintf(out,
			"},\"attr_lost\":%llu,\"attr_records\":%llu,\"attr_joined\":%llu,"
			"\"attr_inbound\":%llu,\"attr_dropped\":%llu,\"attr_unmatched\":%llu,"
			"\"attr_netns_joined\":%llu,\"attr_netns_links\":%llu",
			st.lost, st.records, st.joined, st.joined_inbound, st.records_dropped,
			st.flows_unmatched, st.joined_netns, st.netns_watched);
	} else {
		fputs("},\"attr_lost\":null", out);
	}
	json_key_str(out, "mode_reason", a->mode_why[0] ? a->mode_why : NULL);
	json_key_str(out, "attr", a->attr_name[0] ? a->attr_name : NULL);
	fprintf(out,
		",\"events_lost\":%llu,\"overruns\":%llu,\"resyncs\":%llu,\"events\":%llu,\"dumps\":%llu,"
		"\"netns\":%u,\"acct\":%s,\"timestamp\":%s,\"geoip\":%s,\"tracking\":\"%s\","
		"\"created\":%llu,\"destroyed\":%llu,\"swept\":%llu,\"table_bytes\":%zu",
		a->model.events_lost, a->model.overruns, a->model.resyncs, cs ? cs->events : 0ULL,
		cs ? cs->dumps : 0ULL, a->model.netns, a->acct_on ? "true" : "false",
		a->tstamp_on ? "true" : "false", geoip_available() ? "true" : "false",
		tracking_word(a->tracking), a->model.created,
		a->model.destroyed, a->model.swept, ft_memory(a->model.ft));
	fprintf(out, ",\"netns_watched\":%u,\"uid\":%u", a->nwatch, (unsigned)getuid());
	fprintf(out, ",\"new_events\":%s", a->ct && ct_events_new_on(a->ct) ? "true" : "false");
	fprintf(out, ",\"table_full\":%s,\"ct_count\":%lu,\"ct_max\":%lu,\"ct_dropped\":%llu,"
		"\"ct_evicted\":%llu", a->table_full ? "true" : "false", a->ct_count, a->ct_max,
		a->ct_dropped, a->ct_evicted);
	fprintf(out, ",\"loop_us\":{\"n\":%llu,\"p50\":%llu,\"p99\":%llu,\"max\":%llu}",
		(unsigned long long)a->loop_lat.n, (unsigned long long)lat_pct(&a->loop_lat, 0.5),
		(unsigned long long)lat_pct(&a->loop_lat, 0.99), (unsigned long long)a->loop_lat.max);
	{
		char caps[160];
		uint64_t eff = caps_effective();

		/* root with every capability: "all"; else the ones flowtop knows of */
		json_key_str(out, "caps", eff == ~UINT64_C(0) || eff >= (UINT64_C(1) << 40) - 1 ?
				 "all" : caps_names(eff, caps, sizeof(caps)));
	}
	{
		struct rdns_stats rs;
		unsigned long long answers, lost, ignored;

		rdns_get_stats(&rs);
		dnscap_stats(&answers, &lost, &ignored);
		fprintf(out, ",\"names\":{\"asked\":%s", names_asked_on() ? "true" : "false");
		json_key_str(out, "asked_why", a->names_why[0] ? a->names_why : NULL);
		fprintf(out,
			",\"ptr\":%s,\"answers\":%llu,\"lost\":%llu,\"ignored\":%llu,"
			"\"ptr_queries\":%llu,"
			"\"ptr_answered\":%llu,\"ptr_none\":%llu,\"ptr_failed\":%llu,"
			"\"ptr_dropped\":%llu,\"ptr_inflight\":%u,\"ptr_queued\":%u,"
			"\"ptr_cached\":%u}",
			names_ptr_on() ? "true" : "false", answers, lost, ignored, rs.queries, rs.answered,
			rs.none, rs.failed, rs.dropped, rs.inflight, rs.queued, rs.cached);
	}
	json_key_str(out, "warning", a->warning[0] ? a->warning : NULL);
	fputs("}\n", out);
}

static struct dest_table dests;

/* "curl(812) 2.1M, sshd(90) 10K" */
static void top_text(char *buf, size_t len, const struct dest_agg *d)
{
	size_t o = 0;

	buf[0] = 0;
	for (int i = 0; i < DEST_TOP && d->top[i].pid; i++) {
		char comm[64], b[16];

		fmt_sanitize(comm, sizeof(comm), d->top[i].comm, sizeof(d->top[i].comm));
		fmt_bytes(b, sizeof(b), d->top[i].bytes);
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s(%u) %s", i ? ", " : "",
				      comm, d->top[i].pid, b);
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* Where the data goes: the view's flows by the remote end's country or AS. */
static void batch_destinations(FILE *out, const struct app *a, enum dest_by by)
{
	const struct model *m = &a->model;

	if (dest_build(&dests, m->rows, m->nrows, by) < 0 || !dests.n)
		return;
	fprintf(out, "%-9s %-32s %6s %9s %9s %10s %10s  %s\n",
		by == DEST_BY_ASN ? "AS" : "COUNTRY", "NAME", "FLOWS", "SENT", "RECV", "TX", "RX",
		"TOP PROCESSES");
	for (size_t i = 0; i < dests.n; i++) {
		const struct dest_agg *d = &dests.d[i];
		char name[96], b1[16], b2[16], r1[24], r2[24], top[160];

		fmt_sanitize(name, sizeof(name), d->name, sizeof(d->name));
		fmt_bytes(b1, sizeof(b1), d->sent);
		fmt_bytes(b2, sizeof(b2), d->recv);
		fmt_rate(r1, sizeof(r1), d->rate_tx, a->opts.bits);
		fmt_rate(r2, sizeof(r2), d->rate_rx, a->opts.bits);
		top_text(top, sizeof(top), d);
		fprintf(out, "%-9s %-32.32s %6u %9s %9s %10s %10s  %s\n", d->key,
			name[0] ? name : "-", d->flows, b1, b2, r1, r2, top);
	}
	fputc('\n', out);
}

void json_destinations(FILE *out, const struct app *a, enum dest_by by)
{
	const struct model *m = &a->model;

	if (dest_build(&dests, m->rows, m->nrows, by) < 0)
		return;
	for (size_t i = 0; i < dests.n; i++) {
		const struct dest_agg *d = &dests.d[i];

		fprintf(out, "{\"type\":\"destination\",\"by\":\"%s\"", dest_by_name(by));
		json_key_str(out, "key", d->key);
		json_key_str(out, "name", d->name[0] ? d->name : NULL);
		fprintf(out, ",\"flows\":%u,\"sent_bytes\":%llu,\"recv_bytes\":%llu", d->flows,
			(unsigned long long)d->sent, (unsigned long long)d->recv);
		json_double(out, "rate_tx_Bps", d->rate_tx);
		json_double(out, "rate_rx_Bps", d->rate_rx);
		fputs(",\"top\":[", out);
		for (int k = 0; k < DEST_TOP && d->top[k].pid; k++) {
			fprintf(out, "%s{\"pid\":%u", k ? "," : "", d->top[k].pid);
			json_key_str(out, "comm", d->top[k].comm);
			fprintf(out, ",\"bytes\":%llu}", (unsigned long long)d->top[k].bytes);
		}
		fputs("]}\n", out);
	}
}

void batch_snapshot(FILE *out, const struct app *a, unsigned long iteration)
{
	const struct model *m = &a->model;
	char t[32], b1[16], b2[16], r1[24], r2[24], age[16], src[FMT_ADDR_LEN], dst[FMT_ADDR_LEN];
	char comm[64], pr[12];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(t, sizeof(t), "%H:%M:%S", &tm);
	fprintf(out,
		"flowtop %s - %s  netns %s  mode %s%s%s%s  flows %zu  events lost %llu  "
		"resyncs %llu\n",
		FLOWTOP_VERSION, t, a->netns_label, a->mode, a->mode_why[0] ? " (" : "",
		a->mode_why, a->mode_why[0] ? ")" : "", m->nrows, m->events_lost, m->resyncs);
	fprintf(out, "counters %s  timestamps %s  iteration %lu%s%s\n",
		a->acct_on ? "on" : "off", a->tstamp_on ? "on" : "off", iteration,
		a->warning[0] ? "  warning: " : "", a->warning);
	if (!m->nrows && a->tracking == TRACKING_INACTIVE)
		fprintf(out, "no flows: connection tracking does not seem to be active in this "
			     "network namespace (activate it, e.g. iptables -I OUTPUT -m conntrack "
			     "--ctstate NEW -j ACCEPT)\n");
	fprintf(out, "\n%-7s %-15s %-7s %-11s %7s %-39s %-39s %9s %9s %10s %10s  %s\n", "PID",
		"PROG", "PROTO", "STATE", "AGE", "SOURCE", "DESTINATION", "SENT", "RECV", "TX", "RX",
		"NAME");
	for (size_t i = 0; i < m->nrows; i++) {
		const struct flow *f = m->rows[i];
		const char *st = state_name(f->orig.proto, f->state);
		char sp[64], dp[64];
		__u16 port;
		const char *svc = flow_service(f, &port);
		const char *name;
		enum name_from from;
		bool exact;

		fmt_sanitize(comm, sizeof(comm), f->owner.comm, sizeof(f->owner.comm));
		proto_str(pr, sizeof(pr), f->orig.proto);
		if (proto_has_ports(f->orig.proto)) {
			snprintf(sp, sizeof(sp), "%s:%u",
				 fmt_addr(src, sizeof(src), f->orig.family, f->orig.src),
				 f->orig.sport);
			if (svc)
				snprintf(dp, sizeof(dp), "%s:%u(%s)",
					 fmt_addr(dst, sizeof(dst), f->orig.family, f->orig.dst),
					 f->orig.dport, svc);
			else
				snprintf(dp, sizeof(dp), "%s:%u",
					 fmt_addr(dst, sizeof(dst), f->orig.family, f->orig.dst),
					 f->orig.dport);
		} else {
			snprintf(sp, sizeof(sp), "%s",
				 fmt_addr(src, sizeof(src), f->orig.family, f->orig.src));
			snprintf(dp, sizeof(dp), "%s",
				 fmt_addr(dst, sizeof(dst), f->orig.family, f->orig.dst));
		}
		if (f->flags & FLOW_F_ACCT) {
			fmt_bytes(b1, sizeof(b1), f->orig_bytes);
			fmt_bytes(b2, sizeof(b2), f->reply_bytes);
		} else {
			strcpy(b1, "-");
			strcpy(b2, "-");
		}
		if (f->flags & FLOW_F_RATE) {
			fmt_rate(r1, sizeof(r1), f->rate_orig, a->opts.bits);
			fmt_rate(r2, sizeof(r2), f->rate_reply, a->opts.bits);
		} else {
			strcpy(r1, "-");
			strcpy(r2, "-");
		}
		fmt_duration(age, sizeof(age), flow_age(m, f, &exact));
		if (f->owner.pid)
			fprintf(out, "%-7u ", f->owner.pid);
		else
			fprintf(out, "%-7s ", "-");
		/* the destination's name: as asked for, or ~PTR */
		name = names_of(f, f->orig.dst, &from);
		fprintf(out, "%-15.15s %-3s%c    %-11.11s %6s%c %-39s %-39s %9s %9s %10s %10s  %s%s%s\n",
			f->owner.pid ? comm : "-", pr, f->orig.family == AF_INET6 ? '6' : ' ',
			st ? st : "-", age, exact ? ' ' : '~', sp, dp, b1, b2, r1, r2,
			from == NAME_PTR ? "~" : "", name ? name : "-",
			(f->flags & FLOW_F_GONE) ? " closed" : "");
	}
	fputc('\n', out);
	batch_destinations(out, a, DEST_BY_COUNTRY);
	batch_destinations(out, a, DEST_BY_ASN);
}
