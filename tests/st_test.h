/*
 * The CUnit harness every suite uses: one executable per source file under
 * test, one suite per executable, verbose basic mode (a failed assertion
 * prints file:line and the expression), exit status 1 on any failure.
 *
 *	static void test_merge_is_union(void) { ... CU_ASSERT_EQUAL(a, b); }
 *	ST_TEST_MAIN("dataplane/sketch/hll", ST_TEST(test_merge_is_union), ...)
 *
 * Tests that read ../shared/data use st_test_data_path(), which resolves
 * against SHADOWTAP_SHARED_DATA (set by meson test) and fails the test when
 * the folder is missing rather than skipping it.
 */
#ifndef ST_TEST_H
#define ST_TEST_H

#include <stddef.h>
#include <CUnit/Basic.h>

struct st_test {
	const char *name;
	void (*fn)(void);
};

#define ST_TEST(fn) { #fn, fn }

int st_test_main(const char *suite, const struct st_test *tests, size_t n);

/* Path of a file under ../shared/data; a static buffer, one call at a time. */
const char *st_test_data_path(const char *relative);

#define ST_TEST_MAIN(suite, ...)                                              \
	int main(void)                                                        \
	{                                                                     \
		static const struct st_test tests_[] = { __VA_ARGS__ };       \
		return st_test_main(suite, tests_,                            \
				    sizeof(tests_) / sizeof(tests_[0]));      \
	}

#endif
