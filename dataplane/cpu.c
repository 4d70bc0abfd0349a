/*
 * CPU feature dispatch: see cpu.h.  The level is computed by a constructor so
 * that it is fixed before main() and never written again (no lazy
 * initialisation racing between threads).
 */
#include <stdlib.h>
#include <string.h>

#include "dataplane/cpu.h"

static enum st_simd_level chosen_level;

bool st_cpu_has(enum st_simd_level level)
{
	__builtin_cpu_init();
	switch (level) {
	case ST_SIMD_SCALAR:
		return true;
	case ST_SIMD_AVX2:
		return __builtin_cpu_supports("avx2");
	case ST_SIMD_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl");
	}
	return false;
}

const char *st_simd_level_name(enum st_simd_level level)
{
	static const char *const names[] = {
		[ST_SIMD_SCALAR] = "scalar",
		[ST_SIMD_AVX2] = "avx2",
		[ST_SIMD_AVX512] = "avx512",
	};
	return (unsigned)level < 3 ? names[level] : "unknown";
}

__attribute__((constructor)) static void cpu_choose_level(void)
{
	enum st_simd_level cap = ST_SIMD_AVX512;
	const char *env = getenv("SHADOWTAP_SIMD");

	if (env && strcmp(env, "scalar") == 0)
		cap = ST_SIMD_SCALAR;
	else if (env && strcmp(env, "avx2") == 0)
		cap = ST_SIMD_AVX2;

	chosen_level = ST_SIMD_SCALAR;
	for (int l = ST_SIMD_AVX2; l <= (int)cap; l++)
		if (st_cpu_has((enum st_simd_level)l))
			chosen_level = (enum st_simd_level)l;
}

enum st_simd_level st_cpu_simd_level(void)
{
	return chosen_level;
}
