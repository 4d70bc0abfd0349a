/*
 * Minimal JSON text output for shadowctl: strings escaped per RFC 8259
 * section 7, numbers that never print NaN or infinities.  Bytes that are
 * not valid UTF-8 (a key sample cut in the middle of a character, binary
 * keys) are written as \u00XX escapes of their byte values, so the output
 * is always valid JSON.
 */
#ifndef ST_JSONW_H
#define ST_JSONW_H

#include <stddef.h>
#include <stdio.h>

/* Writes "..." with the bytes escaped. */
void st_jw_str(FILE *out, const void *bytes, size_t len);
/* Writes a finite double (shortest round-trip form) or null. */
void st_jw_num(FILE *out, double v);

#endif
