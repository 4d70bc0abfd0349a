/* CPU dispatch: the chosen level is one the CPU has, and the cap works. */
#include <stdlib.h>
#include <string.h>

#include "dataplane/cpu.h"
#include "st_test.h"

static void test_chosen_level_is_supported(void)
{
	enum st_simd_level l = st_cpu_simd_level();

	CU_ASSERT_TRUE(st_cpu_has(l));
	CU_ASSERT_TRUE(st_cpu_has(ST_SIMD_SCALAR));
	/* AVX-512 implies AVX2 on every CPU that has it. */
	if (st_cpu_has(ST_SIMD_AVX512)) {
		CU_ASSERT_TRUE(st_cpu_has(ST_SIMD_AVX2));
	}
}

static void test_level_names(void)
{
	CU_ASSERT_STRING_EQUAL(st_simd_level_name(ST_SIMD_SCALAR), "scalar");
	CU_ASSERT_STRING_EQUAL(st_simd_level_name(ST_SIMD_AVX2), "avx2");
	CU_ASSERT_STRING_EQUAL(st_simd_level_name(ST_SIMD_AVX512), "avx512");
	CU_ASSERT_STRING_EQUAL(st_simd_level_name((enum st_simd_level)7), "unknown");
}

static void test_env_cap(void)
{
	const char *env = getenv("SHADOWTAP_SIMD");

	if (env && strcmp(env, "scalar") == 0) {
		CU_ASSERT_EQUAL(st_cpu_simd_level(), ST_SIMD_SCALAR);
	} else {
		CU_ASSERT_TRUE(st_cpu_simd_level() != ST_SIMD_SCALAR ||
			       !st_cpu_has(ST_SIMD_AVX2));
	}
}

ST_TEST_MAIN("dataplane/cpu",
	ST_TEST(test_chosen_level_is_supported),
	ST_TEST(test_level_names),
	ST_TEST(test_env_cap))
