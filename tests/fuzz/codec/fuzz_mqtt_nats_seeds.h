/*
 * The writer side of the operation format of fuzz_mqtt_nats.h, shared by
 * the seed writers of the `mqtt` and `nats` fuzz targets (mqtt_seeds.c,
 * nats_seeds.c): a bounded output buffer, the chunk and byte-at-a-time
 * operations, and writing one seed file.  Seed writers are programs: on
 * an error they print it and exit(1).
 */
#ifndef FUZZ_MQTT_NATS_SEEDS_H
#define FUZZ_MQTT_NATS_SEEDS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX 65536

struct out {
	uint8_t p[OUT_MAX];
	size_t len;
};

static inline void put(struct out *o, const void *src, size_t n)
{
	if (o->len + n > OUT_MAX) {
		fprintf(stderr, "seed too large\n");
		exit(1);
	}
	memcpy(o->p + o->len, src, n);
	o->len += n;
}

static inline void put8(struct out *o, uint8_t v)
{
	put(o, &v, 1);
}

/* One chunk of literal bytes on `dir` (op 0x02 | dir: 2-byte length). */
static inline void chunk(struct out *o, unsigned dir, const void *bytes, size_t len)
{
	put8(o, (uint8_t)(0x02 | dir));
	put8(o, (uint8_t)len);
	put8(o, (uint8_t)(len >> 8));
	put(o, bytes, len);
}

/* A chunk of the text `s` (a text protocol's lines). */
static inline void chunk_str(struct out *o, unsigned dir, const char *s)
{
	chunk(o, dir, s, strlen(s));
}

/* The same bytes, one at a time (op 0x06 | dir), at most 256 per op. */
static inline void bytewise(struct out *o, unsigned dir, const void *bytes, size_t len)
{
	const uint8_t *p = bytes;

	for (size_t off = 0; off < len; off += 256) {
		size_t n = len - off < 256 ? len - off : 256;

		put8(o, (uint8_t)(0x06 | dir));
		put8(o, (uint8_t)(n - 1));
		put(o, p + off, n);
	}
}

static inline void write_seed(const char *dir, const char *name, const struct out *o)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(o->p, 1, o->len, f) != o->len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

#endif
