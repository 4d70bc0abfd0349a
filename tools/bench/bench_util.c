/* Shared benchmark helpers; see bench_util.h. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/cpu.h"
#include "tools/bench/bench_util.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double st_bench_median(const double *v, unsigned n)
{
	double *tmp = malloc(n * sizeof(*tmp)), m;

	if (!tmp) {
		perror("median");
		exit(1);
	}
	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	m = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
	free(tmp);
	return m;
}

double st_bench_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int st_bench_pin_cpu(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}

void st_bench_print_env(int argc, char **argv, const char *self, bool pinned)
{
	const char *simd = getenv("SHADOWTAP_SIMD");
	char line[256], cpu[128] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "model name : %127[^\n]", cpu) == 1)
			break;
	if (f)
		fclose(f);
	printf("reproduce: %s%s%s%s", simd ? "SHADOWTAP_SIMD=" : "", simd ? simd : "",
	       simd ? " " : "", self ? self : argv[0]);
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\ncpu: %s; SIMD level %s; %s\n", cpu,
	       st_simd_level_name(st_cpu_simd_level()),
	       pinned ? "pinned to CPU 0" : "not pinned");
#ifdef __OPTIMIZE__
	printf("compiler: %s, optimised build\n", __VERSION__);
#else
	printf("compiler: %s, NOT an optimised build: figures are not representative\n",
	       __VERSION__);
#endif
}
