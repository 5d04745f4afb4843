/* dest.c - where the data goes: flows grouped by the remote end's country or AS (GeoIP). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "dest.h"
#include "geoip.h"

const char *dest_by_name(enum dest_by by)
{
	return by == DEST_BY_ASN ? "asn" : "country";
}

const __u8 *flow_remote(const struct flow *f, __u8 *family)
{
	*family = f->orig.family;
	return (f->flags & FLOW_F_INBOUND) ? f->orig.src : f->orig.dst;
}

static __u32 key_hash(const char *k)
{
	__u32 h = 2166136261u;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h;
}

static int grow_index(struct dest_table *t, size_t want)
{
	size_t cap = t->icap ? t->icap : 64;

	while (cap < 2 * want)
		cap *= 2;
	if (cap == t->icap)
		return 0;
	free(t->index);
	t->index = calloc(cap, sizeof(*t->index));
	if (!t->index) {
		t->icap = 0;
		return -ENOMEM;
	}
	t->icap = cap;
	for (size_t i = 0; i < t->n; i++) {
		__u32 h = key_hash(t->d[i].key) & (__u32)(cap - 1);

		while (t->index[h])
			h = (h + 1) & (__u32)(cap - 1);
		t->index[h] = (__u32)i + 1;
	}
	return 0;
}

static struct dest_agg *slot(struct dest_table *t, const char *key, const char *name)
{
	__u32 h;

	if (t->n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct dest_agg *d = realloc(t->d, cap * sizeof(*d));

		if (!d)
			return NULL;
		t->d = d;
		t->cap = cap;
	}
	if (grow_index(t, t->n + 1) < 0)
		return NULL;
	h = key_hash(key) & (__u32)(t->icap - 1);
	while (t->index[h]) {
		struct dest_agg *d = &t->d[t->index[h] - 1];

		if (!strcmp(d->key, key))
			return d;
		h = (h + 1) & (__u32)(t->icap - 1);
	}
	memset(&t->d[t->n], 0, sizeof(t->d[t->n]));
	snprintf(t->d[t->n].key, sizeof(t->d[t->n].key), "%s", key);
	snprintf(t->d[t->n].name, sizeof(t->d[t->n].name), "%s", name);
	t->index[h] = (__u32)++t->n;
	return &t->d[t->n - 1];
}

/* The flow's owner adds bytes; the DEST_TOP biggest stay (an evicted one may come back). */
static void top_add(struct dest_agg *d, const struct flow *f, __u64 bytes)
{
	int i, at = -1;

	if (!f->owner.pid)
		return;
	for (i = 0; i < DEST_TOP && at < 0; i++)
		if (d->top[i].pid == f->owner.pid)
			at = i;
	if (at >= 0) {
		d->top[at].bytes += bytes;
	} else {
		for (i = 0; i < DEST_TOP && at < 0; i++)
			if (!d->top[i].pid)
				at = i;
		if (at < 0) {
			at = DEST_TOP - 1;	/* the smallest: they are kept in order */
			if (d->top[at].bytes >= bytes)
				return;
		}
		d->top[at].pid = f->owner.pid;
		memcpy(d->top[at].comm, f->owner.comm, sizeof(d->top[at].comm));
		d->top[at].bytes = bytes;
	}
	/* one step of insertion sort: only top[at] changed */
	while (at > 0 && (!d->top[at - 1].pid || d->top[at].bytes > d->top[at - 1].bytes)) {
		struct dest_proc x = d->top[at - 1];

		d->top[at - 1] = d->top[at];
		d->top[at] = x;
		at--;
	}
}

static int cmp_dest(const void *pa, const void *pb)
{
	const struct dest_agg *a = pa, *b = pb;
	__u64 ba = a->sent + a->recv, bb = b->sent + b->recv;

	if (ba != bb)
		return ba > bb ? -1 : 1;
	if (a->flows != b->flows)
		return a->flows > b->flows ? -1 : 1;
	return strcmp(a->key, b->key);
}

int dest_build(struct dest_table *t, struct flow *const *rows, size_t n, enum dest_by by)
{
	t->n = 0;
	if (t->index)
		memset(t->index, 0, t->icap * sizeof(*t->index));
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = rows[i];
		bool in = f->flags & FLOW_F_INBOUND;
		struct geo_info g;
		char key[16];
		const char *name = "";
		struct dest_agg *d;
		__u8 fam;
		const __u8 *addr = flow_remote(f, &fam);
		int r = geoip_lookup(fam, addr, &g);

		if (g.scope != GEO_PUBLIC) {
			snprintf(key, sizeof(key), "%s", geo_scope_name(g.scope));
		} else if (r < 0 || (by == DEST_BY_COUNTRY ? !g.country[0] : !g.asn)) {
			snprintf(key, sizeof(key), "unknown");
		} else if (by == DEST_BY_COUNTRY) {
			snprintf(key, sizeof(key), "%s", g.country);
			name = g.country_name;
		} else {
			snprintf(key, sizeof(key), "AS%u", g.asn);
			name = g.org;
		}
		d = slot(t, key, name);
		if (!d)
			return -ENOMEM;
		if (!(f->flags & FLOW_F_GONE))
			d->flows++;
		d->sent += in ? f->reply_bytes : f->orig_bytes;
		d->recv += in ? f->orig_bytes : f->reply_bytes;
		d->rate_tx += in ? f->rate_reply : f->rate_orig;
		d->rate_rx += in ? f->rate_orig : f->rate_reply;
		top_add(d, f, f->orig_bytes + f->reply_bytes);
	}
	/* (the index now points into the unsorted order: the next build clears it first) */
	qsort(t->d, t->n, sizeof(*t->d), cmp_dest);
	return 0;
}

void dest_free(struct dest_table *t)
{
	free(t->d);
	free(t->index);
	memset(t, 0, sizeof(*t));
}
