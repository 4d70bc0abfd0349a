/*
 * A capture held in memory for the benchmarks: every frame of a pcap or
 * pcapng file copied into one buffer, with its offset, length and time.
 */
#ifndef ST_BENCH_CAPTURE_H
#define ST_BENCH_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct st_bench_capture {
	uint8_t *bytes;
	size_t n, cap, bytes_len, bytes_cap;
	size_t *off;
	uint32_t *len;
	uint64_t *ts;               /* ns since the Unix epoch */
	int linktype;
};

/* Reads every frame of path; 0, or -1 with a message on stderr. */
int st_bench_capture_load(const char *path, struct st_bench_capture *c);
/* Frees what load allocated. */
void st_bench_capture_free(struct st_bench_capture *c);

#endif
