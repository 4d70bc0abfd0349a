/*
 * The input format of the `reasm` fuzz target, shared with its seed writer.
 *
 * An input is a script of TCP segments over one known byte stream (the same
 * for both directions): the stream is REASM_STREAM_BYTES long and made of
 * 8-byte words, word i being [i, big-endian u32][reasm_word_check(i),
 * big-endian u32], so that any 15 consecutive bytes of it say where they
 * are.  Segments name their bytes by stream offset; the harness turns the
 * offset into a sequence number with the direction's current ISN.
 *
 * Header (REASM_HEADER_BYTES):
 *   [0] carry_bytes_max = 16 + (b & 63) * 8; bit 7: the consumer is lazy
 *       (takes one unit per offer)
 *   [1] ooo_segments_max = b % 10
 *   [2] ooo_bytes_max = 64 << (b % 11)
 *   [3] budget = largest block * (1 + b % 8); bit 7: the consumer breaks
 *       its promise (leaves a unit longer than hold_max unconsumed)
 *   [4..7] ISN of direction 0 (big-endian); direction 1 uses its bitwise NOT
 * Then operations of REASM_OP_BYTES each:
 *   [0] REASM_OP_* bits
 *   [1..2] offset in the stream (big-endian), + 65536 with REASM_OP_HIGH
 *   [3..4] payload length (big-endian), modulo 2048 unless REASM_TS_JUMBO,
 *          cut to the end of the stream
 *   [5] timestamp step in ns (low 7 bits) | REASM_TS_JUMBO
 * A trailing partial operation is ignored.
 */
#ifndef REASM_SCRIPT_H
#define REASM_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#define REASM_STREAM_BYTES 131072u
#define REASM_HEADER_BYTES 8u
#define REASM_OP_BYTES 6u

#define REASM_OP_FIN     0x01  /* the segment carries FIN */
#define REASM_OP_SYN     0x02  /* a SYN at the ISN (payload from offset 0) */
#define REASM_OP_RST     0x04  /* a RST at the offset, no payload */
#define REASM_OP_NEW_ISN 0x08  /* with SYN: a new connection, another ISN */
#define REASM_OP_DIR1    0x10  /* direction 1, else 0 */
#define REASM_OP_CALL    0x20  /* not a segment: flush_gap, or release with ... */
#define REASM_OP_RELEASE 0x40  /* ... this bit */
#define REASM_OP_HIGH    0x80  /* offset + 65536 */
#define REASM_TS_JUMBO   0x80  /* in [5]: the length is not cut to 2047 */

/* The check half of word i (murmur3's 32-bit finaliser of a keyed i). */
static inline uint32_t reasm_word_check(uint32_t i)
{
	uint32_t h = i ^ 0x5bd1e995u;

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Fills out[REASM_STREAM_BYTES] with the stream. */
static inline void reasm_stream_fill(uint8_t *out)
{
	for (uint32_t i = 0; i < REASM_STREAM_BYTES / 8; i++) {
		uint32_t c = reasm_word_check(i);

		out[8 * i] = (uint8_t)(i >> 24);
		out[8 * i + 1] = (uint8_t)(i >> 16);
		out[8 * i + 2] = (uint8_t)(i >> 8);
		out[8 * i + 3] = (uint8_t)i;
		out[8 * i + 4] = (uint8_t)(c >> 24);
		out[8 * i + 5] = (uint8_t)(c >> 16);
		out[8 * i + 6] = (uint8_t)(c >> 8);
		out[8 * i + 7] = (uint8_t)c;
	}
}

#endif
