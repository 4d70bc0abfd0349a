#include "st_test.h"
static void t(void) {}
ST_TEST_MAIN("x", ST_TEST(t))
