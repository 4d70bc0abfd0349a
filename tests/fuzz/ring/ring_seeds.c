/*
 * Writes valid ring objects into the directory given as argv[1]: the seed
 * corpus of fuzz_ring.c.  Each is a real object: a producer (and sometimes a
 * consumer) of the ring library runs a scenario on a shm object of this
 * process, and the object's bytes are copied out.  Small capacities, so the
 * fuzzer reaches the wrap, pad, unmarked lap end and full-ring states
 * quickly.  The slot checksums depend on a random ring id, so the files
 * differ between runs; each is valid.
 *
 *	fuzz-seeds-ring <corpus dir>
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shadowtap/ring.h"

struct scenario {
	const char *file;
	uint64_t capacity_bytes;
	uint32_t max_record_bytes;
	uint32_t fillers;        /* records consumed first, to move the start */
	uint32_t filler_len;
	uint32_t records;        /* then left in the ring */
	uint32_t record_len;     /* 0: varied */
	uint32_t consumed;       /* of those, released */
};

static const struct scenario scenarios[] = {
	{ "empty", 256, 104, 0, 0, 0, 0, 0 },
	{ "few", 256, 104, 0, 0, 3, 0, 0 },
	{ "zero-length", 256, 104, 0, 0, 4, 1, 1 },
	{ "pad", 256, 104, 5, 16, 3, 60, 0 },          /* 5 x 40 = 200: pad of 56 */
	{ "lap-end", 256, 104, 3, 56, 2, 60, 0 },      /* 3 x 80 = 240: 16 left, unmarked */
	{ "full", 512, 200, 0, 0, 40, 0, 0 },
	{ "half-read", 1024, 300, 7, 100, 30, 0, 9 },
	{ "many", 4096, 1000, 20, 150, 200, 0, 50 },
};

static int write_object(const char *instance, const char *dir, const char *file)
{
	char name[ST_RING_SHM_NAME_MAX], path[4096];
	struct stat st;
	FILE *out;
	void *m;
	int fd;

	st_ring_shm_name(name, sizeof(name), instance);
	fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	snprintf(path, sizeof(path), "%s/ring-%s", dir, file);
	out = fopen(path, "wb");
	if (!out || fwrite(m, 1, (size_t)st.st_size, out) != (size_t)st.st_size || fclose(out)) {
		munmap(m, (size_t)st.st_size);
		return -1;
	}
	munmap(m, (size_t)st.st_size);
	return 0;
}

static void put(struct st_ring *p, uint32_t len, uint32_t key)
{
	uint8_t *w = st_ring_reserve(p, len);

	if (!w)
		return; /* "full" drops a few, as it should */
	for (uint32_t i = 0; i < len; i++)
		w[i] = (uint8_t)(key * 29 + i);
	st_ring_commit(p, len);
}

static void take(struct st_ring *c)
{
	const void *rec;
	uint32_t len;

	if (st_ring_peek(c, &rec, &len) == 0)
		st_ring_release(c);
}

static int run(const struct scenario *s, const char *dir)
{
	struct st_ring_config cfg = { s->capacity_bytes, s->max_record_bytes };
	struct st_ring *p, *c;
	char instance[32];
	int rc;

	snprintf(instance, sizeof(instance), "seeds-%d", (int)getpid());
	st_ring_unlink(instance);
	p = st_ring_producer_open(instance, &cfg);
	c = p ? st_ring_consumer_open(instance) : NULL;
	if (!c) {
		st_ring_close(p);
		return -1;
	}
	for (uint32_t i = 0; i < s->fillers; i++) {
		put(p, s->filler_len, i);
		take(c);
	}
	for (uint32_t i = 0; i < s->records; i++)
		put(p, s->record_len ? s->record_len - 1 : (i * 37) % s->max_record_bytes, i);
	for (uint32_t i = 0; i < s->consumed; i++)
		take(c);
	rc = write_object(instance, dir, s->file);
	st_ring_close(c);
	st_ring_close(p);
	st_ring_unlink(instance);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-ring <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (run(&scenarios[i], argv[1])) {
			perror(scenarios[i].file);
			return 1;
		}
	}
	return 0;
}
