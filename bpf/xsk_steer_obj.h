/*
 * The compiled steering program (xsk_steer.bpf.c), embedded in the library
 * at build time by embed.py so that the backend needs no file at run time.
 * The bytes are a BPF ELF object for bpf_object__open_mem().
 */
#ifndef ST_XSK_STEER_OBJ_H
#define ST_XSK_STEER_OBJ_H

#include <stddef.h>

extern const unsigned char st_xsk_steer_obj[];
extern const size_t st_xsk_steer_obj_bytes;

#endif
