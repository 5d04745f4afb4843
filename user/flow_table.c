/* flow_table.c - the flow table: chunked slab of flows, two chained hashes (by id, by tuple). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"

/*
 * Flows live in fixed-size chunks so pointers never move when the table
 * grows. Chains link slot indices (+1, 0 ends a chain) instead of pointers:
 * half the size on 64-bit, and a free slot reuses next_id as its free link.
 */
#define FT_CHUNK_SHIFT 12
#define FT_CHUNK (1u << FT_CHUNK_SHIFT)
#define FT_MIN_BUCKETS 1024u

struct flow_table {
	struct flow **chunks;
	__u64 **used;		/* one bitmap per chunk: slot holds a flow */
	size_t nchunks;
	size_t count;
	__u32 free_head;	/* slot + 1 of the first free slot */
	__u32 *by_id;
	__u32 *by_tuple;
	__u32 nbuckets;		/* power of two */
};

static inline __u32 mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x7feb352dU;
	h ^= h >> 15;
	h *= 0x846ca68bU;
	h ^= h >> 16;
	return h;
}

static __u32 hash_id(__u32 netns, __u32 id)
{
	return mix32(id ^ mix32(netns + 0x9e3779b9U));
}

static __u32 hash_tuple(__u32 netns, const struct flow_tuple *t)
{
	__u32 w[10];
	__u32 h = netns ^ 0x85ebca6bU;

	/* The tuple is 40 bytes including explicit padding, zeroed by ct_parse. */
	memcpy(w, t, sizeof(w));
	for (unsigned int i = 0; i < 10; i++)
		h = mix32(h ^ w[i]) + i;
	return h;
}

_Static_assert(sizeof(struct flow_tuple) == 40, "flow_tuple must stay 40 bytes");

bool flow_tuple_equal(const struct flow_tuple *a, const struct flow_tuple *b)
{
	return a->family == b->family && a->proto == b->proto && a->sport == b->sport &&
	       a->dport == b->dport && !memcmp(a->src, b->src, 16) && !memcmp(a->dst, b->dst, 16);
}

static inline struct flow *slot_ptr(const struct flow_table *ft, __u32 slot)
{
	return &ft->chunks[slot >> FT_CHUNK_SHIFT][slot & (FT_CHUNK - 1)];
}

static inline bool slot_used(const struct flow_table *ft, size_t slot)
{
	const __u64 *bm = ft->used[slot >> FT_CHUNK_SHIFT];
	size_t i = slot & (FT_CHUNK - 1);

	return bm[i / 64] & (1ULL << (i % 64));
}

static inline void slot_set_used(struct flow_table *ft, size_t slot, bool on)
{
	__u64 *bm = ft->used[slot >> FT_CHUNK_SHIFT];
	size_t i = slot & (FT_CHUNK - 1);

	if (on)
		bm[i / 64] |= 1ULL << (i % 64);
	else
		bm[i / 64] &= ~(1ULL << (i % 64));
}

static __u32 slot_of(const struct flow_table *ft, const struct flow *f)
{
	for (size_t c = 0; c < ft->nchunks; c++) {
		const struct flow *base = ft->chunks[c];

		if (f >= base && f < base + FT_CHUNK)
			return (__u32)(c * FT_CHUNK + (size_t)(f - base));
	}
	return UINT32_MAX;
}

struct flow_table *ft_new(void)
{
	struct flow_table *ft = calloc(1, sizeof(*ft));

	if (!ft)
		return NULL;
	ft->nbuckets = FT_MIN_BUCKETS;
	ft->by_id = calloc(ft->nbuckets, sizeof(__u32));
	ft->by_tuple = calloc(ft->nbuckets, sizeof(__u32));
	if (!ft->by_id || !ft->by_tuple) {
		ft_free(ft);
		return NULL;
	}
	return ft;
}

void ft_free(struct flow_table *ft)
{
	if (!ft)
		return;
	for (size_t c = 0; c < ft->nchunks; c++) {
		free(ft->chunks[c]);
		free(ft->used[c]);
	}
	free(ft->chunks);
	free(ft->used);
	free(ft->by_id);
	free(ft->by_tuple);
	free(ft);
}

size_t ft_count(const struct flow_table *ft)
{
	return ft->count;
}

size_t ft_slots(const struct flow_table *ft)
{
	return ft->nchunks * FT_CHUNK;
}

struct flow *ft_slot(struct flow_table *ft, size_t slot)
{
	if (slot >= ft_slots(ft) || !slot_used(ft, slot))
		return NULL;
	return slot_ptr(ft, (__u32)slot);
}

struct flow *ft_find_id(struct flow_table *ft, __u32 netns, __u32 id)
{
	__u32 s = ft->by_id[hash_id(netns, id) & (ft->nbuckets - 1)];

	while (s) {
		struct flow *f = slot_ptr(ft, s - 1);

		if (f->id == id && f->netns == netns)
			return f;
		s = f->next_id;
	}
	return NULL;
}

struct flow *ft_find_flow(struct flow_table *ft, __u32 netns, __u32 id,
			 const struct flow_tuple *orig)
{
	__u32 s = ft->by_id[hash_id(netns, id) & (ft->nbuckets - 1)];

	while (s) {
		struct flow *f = slot_ptr(ft, s - 1);

		if (f->id == id && f->netns == netns && flow_tuple_equal(&f->orig, orig))
			return f;
		s = f->next_id;
	}
	return NULL;
}

struct flow *ft_find_tuple(struct flow_table *ft, __u32 netns, const struct flow_tuple *orig)
{
	__u32 s = ft->by_tuple[hash_tuple(netns, orig) & (ft->nbuckets - 1)];

	while (s) {
		struct flow *f = slot_ptr(ft, s - 1);

		if (f->netns == netns && flow_tuple_equal(&f->orig, orig))
			return f;
		s = f->next_tuple;
	}
	return NULL;
}

static void link_slot(struct flow_table *ft, __u32 slot)
{
	struct flow *f = slot_ptr(ft, slot);
	__u32 bi = hash_id(f->netns, f->id) & (ft->nbuckets - 1);
	__u32 bt = hash_tuple(f->netns, &f->orig) & (ft->nbuckets - 1);

	f->next_id = ft->by_id[bi];
	ft->by_id[bi] = slot + 1;
	f->next_tuple = ft->by_tuple[bt];
	ft->by_tuple[bt] = slot + 1;
}

static int grow_buckets(struct flow_table *ft)
{
	__u32 n = ft->nbuckets * 2;
	__u32 *bi = calloc(n, sizeof(__u32));
	__u32 *bt = calloc(n, sizeof(__u32));

	if (!bi || !bt) {
		free(bi);
		free(bt);
		return -ENOMEM;
	}
	free(ft->by_id);
	free(ft->by_tuple);
	ft->by_id = bi;
	ft->by_tuple = bt;
	ft->nbuckets = n;
	for (size_t s = 0; s < ft_slots(ft); s++)
		if (slot_used(ft, s) && !(slot_ptr(ft, (__u32)s)->flags & FLOW_F_RETIRED))
			link_slot(ft, (__u32)s);
	return 0;
}

static int grow_chunks(struct flow_table *ft)
{
	size_t c = ft->nchunks;
	struct flow **chunks = realloc(ft->chunks, (c + 1) * sizeof(*chunks));
	__u64 **used;

	if (!chunks)
		return -ENOMEM;
	ft->chunks = chunks;
	used = realloc(ft->used, (c + 1) * sizeof(*used));
	if (!used)
		return -ENOMEM;
	ft->used = used;
	ft->chunks[c] = malloc(FT_CHUNK * sizeof(struct flow));
	ft->used[c] = calloc(FT_CHUNK / 64, sizeof(__u64));
	if (!ft->chunks[c] || !ft->used[c]) {
		free(ft->chunks[c]);
		free(ft->used[c]);
		return -ENOMEM;
	}
	ft->nchunks = c + 1;
	/* Thread the new slots onto the free list, lowest slot first. */
	for (size_t i = FT_CHUNK; i-- > 0;) {
		__u32 slot = (__u32)(c * FT_CHUNK + i);

		slot_ptr(ft, slot)->next_id = ft->free_head;
		ft->free_head = slot + 1;
	}
	return 0;
}

struct flow *ft_insert(struct flow_table *ft, const struct flow *tmpl)
{
	struct flow *f;
	__u32 slot;

	if (ft->count >= ft->nbuckets && grow_buckets(ft) < 0)
		return NULL;
	if (!ft->free_head && grow_chunks(ft) < 0)
		return NULL;
	slot = ft->free_head - 1;
	f = slot_ptr(ft, slot);
	ft->free_head = f->next_id;
	*f = *tmpl;
	slot_set_used(ft, slot, true);
	link_slot(ft, slot);
	ft->count++;
	return f;
}

static void unlink_chain(struct flow_table *ft, __u32 *head, __u32 slot, bool by_id)
{
	__u32 *pp = head;

	while (*pp) {
		struct flow *f = slot_ptr(ft, *pp - 1);

		if (*pp - 1 == slot) {
			*pp = by_id ? f->next_id : f->next_tuple;
			return;
		}
		pp = by_id ? &f->next_id : &f->next_tuple;
	}
}

/* Take slot (holding f) out of both chains. */
static void unlink_slot(struct flow_table *ft, __u32 slot, const struct flow *f)
{
	unlink_chain(ft, &ft->by_id[hash_id(f->netns, f->id) & (ft->nbuckets - 1)], slot, true);
	unlink_chain(ft, &ft->by_tuple[hash_tuple(f->netns, &f->orig) & (ft->nbuckets - 1)], slot,
		     false);
}

void ft_remove(struct flow_table *ft, struct flow *f)
{
	__u32 slot = slot_of(ft, f);

	if (slot == UINT32_MAX || !slot_used(ft, slot))
		return;
	unlink_slot(ft, slot, f);
	slot_set_used(ft, slot, false);
	f->next_id = ft->free_head;
	ft->free_head = slot + 1;
	ft->count--;
}

void ft_retire(struct flow_table *ft, struct flow *f)
{
	__u32 slot = slot_of(ft, f);

	if (slot == UINT32_MAX || !slot_used(ft, slot) || (f->flags & FLOW_F_RETIRED))
		return;
	unlink_slot(ft, slot, f);
	f->flags |= FLOW_F_RETIRED;
}

size_t ft_memory(const struct flow_table *ft)
{
	return sizeof(*ft) + ft->nchunks * (FT_CHUNK * sizeof(struct flow) + FT_CHUNK / 8 +
					    sizeof(void *) * 2) +
	       2 * (size_t)ft->nbuckets * sizeof(__u32);
}
