/*
 * What every benchmark program shares: medians, this thread's CPU time,
 * pinning to CPU 0, and the lines that say how to reproduce a run and on
 * what it ran.  Benchmark code only: nothing here is on a product path.
 */
#ifndef ST_BENCH_UTIL_H
#define ST_BENCH_UTIL_H

#include <stdbool.h>

/* Median of v[0..n), n >= 1; v is left as it is. */
double st_bench_median(const double *v, unsigned n);

/* This thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID): on a shared
 * machine, the time the code itself took. */
double st_bench_cpu_seconds(void);

/* Pins the calling thread to CPU cpu.  0, or -errno. */
int st_bench_pin_cpu(unsigned cpu);

/* Prints "reproduce: [SHADOWTAP_SIMD=..] SELF ARGS", "cpu: MODEL; SIMD
 * level L; pinned to CPU 0|not pinned" and "compiler: ..." lines.  SELF is
 * the program's path as it should be typed (argv[0] when NULL). */
void st_bench_print_env(int argc, char **argv, const char *self, bool pinned);

#endif
