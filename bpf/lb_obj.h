/*
 * The compiled XDP load balancer (lb.bpf.c), embedded at build time by
 * embed.py so that the actuator needs no file at run time.  The bytes are
 * a BPF ELF object for bpf_object__open_mem().
 */
#ifndef ST_LB_OBJ_H
#define ST_LB_OBJ_H

#include <stddef.h>

extern const unsigned char st_lb_obj[];
extern const size_t st_lb_obj_bytes;

#endif
