/*
 * Writes valid scripts (reasm_script.h) into the directory given as
 * argv[1]: the seed corpus of fuzz_reasm.c.  Each seed is one situation
 * the reassembler must handle: in order with a FIN, tiny segments, swapped
 * and reversed segments, a loss then a flush, duplicates and overlapping
 * retransmissions, two directions on a small pool, a restart and a RST
 * near 2^32, jumbo segments over a small carry, a consumer that breaks its
 * promise.  Deterministic.
 *
 *	fuzz-seeds-reasm <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reasm_script.h"

#define SCRIPT_MAX 8192

struct script {
	uint8_t bytes[SCRIPT_MAX];
	size_t len;
};

static void header(struct script *s, uint8_t carry, uint8_t segs, uint8_t ooo,
		   uint8_t budget, uint32_t isn)
{
	s->len = 0;
	s->bytes[s->len++] = carry;
	s->bytes[s->len++] = segs;
	s->bytes[s->len++] = ooo;
	s->bytes[s->len++] = budget;
	s->bytes[s->len++] = (uint8_t)(isn >> 24);
	s->bytes[s->len++] = (uint8_t)(isn >> 16);
	s->bytes[s->len++] = (uint8_t)(isn >> 8);
	s->bytes[s->len++] = (uint8_t)isn;
}

static void op(struct script *s, uint8_t bits, size_t off, size_t len)
{
	if (s->len + REASM_OP_BYTES > SCRIPT_MAX)
		return;
	if (off >= 65536) {
		bits |= REASM_OP_HIGH;
		off -= 65536;
	}
	s->bytes[s->len++] = bits;
	s->bytes[s->len++] = (uint8_t)(off >> 8);
	s->bytes[s->len++] = (uint8_t)off;
	s->bytes[s->len++] = (uint8_t)(len >> 8);
	s->bytes[s->len++] = (uint8_t)len;
	s->bytes[s->len++] = (uint8_t)(len >= 2048 ? REASM_TS_JUMBO | 100 : 100);
}

static void in_order(struct script *s)
{
	header(s, 20, 8, 10, 3, 1000);
	op(s, REASM_OP_SYN, 0, 0);
	for (size_t off = 0; off < 40 * 1460; off += 1460)
		op(s, off + 1460 >= 40 * 1460 ? REASM_OP_FIN : 0, off, 1460);
}

static void tiny(struct script *s)
{
	size_t off = 0;

	header(s, 0x80 | 2, 8, 4, 1, 5);
	op(s, REASM_OP_SYN, 0, 0);
	for (size_t i = 0; i < 300; i++) {
		size_t len = 1 + (i * 7) % 19;

		op(s, 0, off, len);
		off += len;
	}
}

static void reordered(struct script *s)
{
	header(s, 0x80 | 10, 8, 8, 2, 77);
	op(s, REASM_OP_SYN, 0, 0);
	for (size_t w = 0; w < 20; w++) {
		size_t base = w * 5 * 300;

		if (w % 2) {
			for (size_t i = 5; i-- > 0;)
				op(s, 0, base + i * 300, 300);
		} else {
			op(s, 0, base + 300, 300);
			op(s, 0, base, 300);
			for (size_t i = 2; i < 5; i++)
				op(s, 0, base + i * 300, 300);
		}
	}
}

static void loss_then_flush(struct script *s)
{
	header(s, 40, 4, 9, 2, 0xfffff000u);
	for (size_t i = 0; i < 30; i++)
		if (i != 7 && i != 20)
			op(s, 0, i * 512, 512);
	op(s, REASM_OP_CALL, 0, 0);
	op(s, REASM_OP_FIN, 30 * 512, 0);
	op(s, REASM_OP_CALL, 0, 0);
}

static void duplicates(struct script *s)
{
	header(s, 30, 8, 10, 2, 123456);
	op(s, REASM_OP_SYN, 0, 0);
	for (size_t i = 0; i < 40; i++) {
		op(s, 0, i * 100, 150);
		op(s, 0, i * 100, 100);
		if (i > 2)
			op(s, 0, i * 100 - 250, 300);
	}
	op(s, 0, 4500, 200);
	op(s, 0, 4300, 500);
	op(s, 0, 4100, 1000);
}

static void two_directions_small_pool(struct script *s)
{
	header(s, 63, 9, 6, 0, 99);
	op(s, REASM_OP_SYN, 0, 0);
	op(s, REASM_OP_SYN | REASM_OP_DIR1, 0, 0);
	for (size_t i = 0; i < 40; i++) {
		op(s, 0, i * 700 + 700, 700);
		op(s, REASM_OP_DIR1, i * 333, 333);
	}
	for (size_t i = 0; i < 40; i++)
		op(s, 0, i * 700, 700);
	op(s, REASM_OP_CALL | REASM_OP_RELEASE | REASM_OP_DIR1, 0, 0);
	op(s, REASM_OP_DIR1, 50000, 1000);
}

static void restart_and_reset_near_wrap(struct script *s)
{
	header(s, 5, 8, 8, 2, 0xffffff00u);
	op(s, REASM_OP_SYN, 0, 40);
	for (size_t i = 0; i < 20; i++)
		op(s, 0, 40 + i * 64, 64);
	op(s, REASM_OP_SYN | REASM_OP_NEW_ISN, 123, 0);
	for (size_t i = 0; i < 20; i++)
		op(s, 0, i * 50, 50);
	op(s, REASM_OP_RST, 1000, 0);
	for (size_t i = 0; i < 20; i++)
		op(s, 0, 3000 + i * 50, 50);
}

static void jumbo(struct script *s)
{
	header(s, 0, 3, 10, 4, 42);
	op(s, REASM_OP_SYN, 0, 0);
	op(s, 0, 0, 20000);
	op(s, 0, 40000, 20000);
	op(s, 0, 20000, 20000);
	op(s, 0, 60000, 65535);
	op(s, REASM_OP_FIN, 125535, 5000);
}

/* A consumer that never streams a long unit past: the carry overflows. */
static void stubborn(struct script *s)
{
	header(s, 1, 8, 10, 0x80 | 2, 4096);
	op(s, REASM_OP_SYN, 0, 0);
	for (size_t i = 0; i < 100; i++)
		op(s, 0, i * 50, 50);
	op(s, 0, 5000, 3000);
}

static int write_seed(const char *dir, const char *name, const struct script *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/reasm-%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	if (fwrite(s->bytes, 1, s->len, f) != s->len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*build)(struct script *s);
	} seeds[] = {
		{ "in-order", in_order },
		{ "tiny", tiny },
		{ "reordered", reordered },
		{ "loss-flush", loss_then_flush },
		{ "duplicates", duplicates },
		{ "two-dirs-small-pool", two_directions_small_pool },
		{ "restart-reset-wrap", restart_and_reset_near_wrap },
		{ "jumbo", jumbo },
		{ "stubborn", stubborn },
	};
	static struct script s;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		int err;

		seeds[i].build(&s);
		err = write_seed(argv[1], seeds[i].name, &s);
		if (err) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], seeds[i].name, strerror(-err));
			return 1;
		}
	}
	return 0;
}
