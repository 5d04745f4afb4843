/* flow_table.h - the flow table: slab of flows, hashed by conntrack id and by tuple. */
#ifndef FLOWTOP_FLOW_TABLE_H
#define FLOWTOP_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "flow.h"

struct flow_table;

struct flow_table *ft_new(void);
void ft_free(struct flow_table *ft);

/* Number of live entries, and the slot range for iteration. */
size_t ft_count(const struct flow_table *ft);
size_t ft_slots(const struct flow_table *ft);
/* The flow in a slot, or NULL if the slot is free. */
struct flow *ft_slot(struct flow_table *ft, size_t slot);

struct flow *ft_find_id(struct flow_table *ft, __u32 netns, __u32 id);
/*
 * The flow with this id AND original tuple. Conntrack ids are 32-bit hashes:
 * in a table of 100k entries two live flows share one about once, so the id
 * alone names a flow only together with its tuple.
 */
struct flow *ft_find_flow(struct flow_table *ft, __u32 netns, __u32 id,
			  const struct flow_tuple *orig);
struct flow *ft_find_tuple(struct flow_table *ft, __u32 netns, const struct flow_tuple *orig);

/*
 * Insert a copy of *tmpl (keyed by tmpl->netns, tmpl->id and tmpl->orig).
 * Returns the stored flow or NULL on allocation failure. Pointers stay valid
 * until the flow is removed (the slab grows in chunks, it never moves).
 */
struct flow *ft_insert(struct flow_table *ft, const struct flow *tmpl);
void ft_remove(struct flow_table *ft, struct flow *f);
/*
 * Keep f (iterated by ft_slot() until removed) but never find it by id or
 * tuple again: an ended flow whose id and tuple a new flow has taken.
 */
void ft_retire(struct flow_table *ft, struct flow *f);

/* Bytes held by the table (slab + hash buckets), for the memory benchmark. */
size_t ft_memory(const struct flow_table *ft);

bool flow_tuple_equal(const struct flow_tuple *a, const struct flow_tuple *b);

#endif
