/*
 * A bounds-checked read cursor over a byte buffer: the one way the decoder
 * (and any codec that wants it) reads packet bytes.  Every accessor checks
 * that the bytes it reads lie inside [start, start + len) before touching
 * them and leaves the cursor unchanged when they do not, so a parser can
 * never read a byte it did not check.
 *
 * Invariant: off <= len, always.  The cursor never owns the buffer.
 *
 * Byte order: the _be16/_be32 readers turn big-endian (network order) bytes
 * into host-order integers; _le32 turns little-endian bytes into host order.
 * None of them cares about alignment (they assemble bytes one by one; the
 * compiler turns that into one load and a byte swap).
 *
 * Thread safety: a cursor is a plain value on the caller's stack; no state
 * is shared.  All functions are inline, allocate nothing, make no calls.
 */
#ifndef ST_DECODE_CURSOR_H
#define ST_DECODE_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

struct st_cursor {
	const uint8_t *start;   /* first byte of the buffer */
	uint32_t len;           /* bytes readable from start */
	uint32_t off;           /* next byte to read; off <= len */
};

static inline void st_cursor_init(struct st_cursor *c, const uint8_t *buf, uint32_t len)
{
	c->start = buf;
	c->len = len;
	c->off = 0;
}

/* Bytes left to read. */
static inline uint32_t st_cursor_left(const struct st_cursor *c)
{
	return c->len - c->off;
}

/* True when n more bytes can be read. */
static inline bool st_cursor_has(const struct st_cursor *c, uint32_t n)
{
	return st_cursor_left(c) >= n;
}

/* Pointer to the next byte (valid to read only st_cursor_left() bytes). */
static inline const uint8_t *st_cursor_pos(const struct st_cursor *c)
{
	return c->start + c->off;
}

/* Pointer to the next n bytes without moving, or NULL when fewer are left. */
static inline const uint8_t *st_cursor_peek(const struct st_cursor *c, uint32_t n)
{
	return st_cursor_has(c, n) ? c->start + c->off : NULL;
}

/* Pointer to the next n bytes and moves past them, or NULL (cursor unchanged). */
static inline const uint8_t *st_cursor_take(struct st_cursor *c, uint32_t n)
{
	const uint8_t *p = st_cursor_peek(c, n);

	if (p)
		c->off += n;
	return p;
}

/* Moves past n bytes; false (cursor unchanged) when fewer are left. */
static inline bool st_cursor_skip(struct st_cursor *c, uint32_t n)
{
	if (!st_cursor_has(c, n))
		return false;
	c->off += n;
	return true;
}

/* Limits the readable bytes to the next n (e.g. an IP total length that
 * ends before the frame does: Ethernet padding).  False (unchanged) when
 * fewer than n bytes are left: the cursor can only shrink. */
static inline bool st_cursor_limit(struct st_cursor *c, uint32_t n)
{
	if (!st_cursor_has(c, n))
		return false;
	c->len = c->off + n;
	return true;
}

static inline uint16_t st_load_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t st_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t st_load_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Readers: store the value in *v and move on, or return false (cursor and
 * *v unchanged) when the bytes are not there. */
static inline bool st_cursor_u8(struct st_cursor *c, uint8_t *v)
{
	const uint8_t *p = st_cursor_take(c, 1);

	if (!p)
		return false;
	*v = p[0];
	return true;
}

static inline bool st_cursor_be16(struct st_cursor *c, uint16_t *v)
{
	const uint8_t *p = st_cursor_take(c, 2);

	if (!p)
		return false;
	*v = st_load_be16(p);
	return true;
}

static inline bool st_cursor_be32(struct st_cursor *c, uint32_t *v)
{
	const uint8_t *p = st_cursor_take(c, 4);

	if (!p)
		return false;
	*v = st_load_be32(p);
	return true;
}

static inline bool st_cursor_le32(struct st_cursor *c, uint32_t *v)
{
	const uint8_t *p = st_cursor_take(c, 4);

	if (!p)
		return false;
	*v = st_load_le32(p);
	return true;
}

#endif
