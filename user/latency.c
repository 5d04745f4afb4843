/* latency.c - a small log-linear histogram of durations (microseconds) and its percentiles. */
#include "latency.h"

static unsigned int bucket_of(uint64_t v)
{
	unsigned int msb, idx;

	if (v < 8)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	idx = 8 + (msb - 3) * 8 + (unsigned int)((v >> (msb - 3)) & 7);
	return idx < LAT_BUCKETS ? idx : LAT_BUCKETS - 1;
}

static uint64_t bucket_top(unsigned int idx)
{
	unsigned int msb, sub;

	if (idx < 8)
		return idx;
	msb = (idx - 8) / 8 + 3;
	sub = (idx - 8) % 8;
	return ((uint64_t)(8 + sub) << (msb - 3)) + ((uint64_t)1 << (msb - 3)) - 1;
}

void lat_add(struct lat_hist *h, uint64_t us)
{
	h->b[bucket_of(us)]++;
	h->n++;
	if (us > h->max)
		h->max = us;
}

uint64_t lat_pct(const struct lat_hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)(p * (double)h->n + 0.999999);
	if (want < 1)
		want = 1;
	for (unsigned int i = 0; i < LAT_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return bucket_top(i) < h->max ? bucket_top(i) : h->max;
	}
	return h->max;
}
