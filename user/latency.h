/* latency.h - a small log-linear histogram of durations (microseconds) and its percentiles. */
#ifndef FLOWTOP_LATENCY_H
#define FLOWTOP_LATENCY_H

#include <stdint.h>

/* 8 linear buckets below 8 us, then 8 per power of two: within 12.5% up to ~2^40 us. */
#define LAT_BUCKETS 320

struct lat_hist {
	uint64_t n;
	uint64_t max;
	uint32_t b[LAT_BUCKETS];
};

void lat_add(struct lat_hist *h, uint64_t us);
/* The value below which a fraction p (0..1) of the samples lie (a bucket's upper end). */
uint64_t lat_pct(const struct lat_hist *h, double p);

#endif
