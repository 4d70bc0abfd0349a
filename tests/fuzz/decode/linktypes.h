/*
 * The link types the decode fuzz target and its seed writer agree on: the
 * first input byte, modulo the count, picks one.  Every type st_decode()
 * supports is here.
 */
#ifndef ST_FUZZ_DECODE_LINKTYPES_H
#define ST_FUZZ_DECODE_LINKTYPES_H

#include "dataplane/decode/decode.h"

static const int fuzz_linktypes[] = {
	ST_DLT_EN10MB, ST_DLT_NULL, ST_DLT_LOOP, ST_DLT_LINUX_SLL, ST_DLT_LINUX_SLL2,
	ST_DLT_RAW, ST_DLT_RAW_BSD12, ST_DLT_RAW_BSD14, ST_DLT_IPV4, ST_DLT_IPV6,
};
#define FUZZ_LINKTYPES (sizeof(fuzz_linktypes) / sizeof(fuzz_linktypes[0]))

#endif
