/* CUnit harness: see st_test.h. */
#include <stdio.h>
#include <stdlib.h>

#include "st_test.h"

int st_test_main(const char *suite_name, const struct st_test *tests, size_t n)
{
	CU_pSuite suite;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite(suite_name, NULL, NULL);
	if (!suite)
		goto out_cleanup;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			goto out_cleanup;

	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto out_cleanup;
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	if (CU_get_number_of_tests_run() != n) {
		fprintf(stderr, "%s: ran %u of %zu tests\n", suite_name,
			CU_get_number_of_tests_run(), n);
		failed++;
	}
	CU_cleanup_registry();
	return failed ? 1 : 0;

out_cleanup:
	fprintf(stderr, "%s: CUnit error: %s\n", suite_name, CU_get_error_msg());
	CU_cleanup_registry();
	return 2;
}

const char *st_test_data_path(const char *relative)
{
	static char path[4096];
	const char *root = getenv("SHADOWTAP_SHARED_DATA");

	if (!root)
		root = "../shared/data";
	snprintf(path, sizeof(path), "%s/%s", root, relative);
	return path;
}
