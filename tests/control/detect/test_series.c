/*
 * The series readers (CSV, TCPD JSON) on good, malformed and truncated
 * inputs written here; the oracle is the text itself (the values and the
 * line numbers the test put there).
 */
#include <errno.h>
#include <string.h>

#include "control/detect/series.h"
#include "st_test.h"

static int csv(const char *text, struct st_series *s, char *err)
{
	return st_series_parse(text, strlen(text), s, err);
}

static void test_csv_header_dims_missing(void)
{
	struct st_series s;
	char err[ST_SERIES_ERR_BYTES];

	CU_ASSERT_EQUAL_FATAL(csv("time,a,b\r\n2020-01-01,1,10\r\n\r\n"
				  "2020-01-02,,11\n2020-01-03,3,null\n", &s, err), 0);
	CU_ASSERT_EQUAL(s.n_obs, 3);
	CU_ASSERT_EQUAL(s.n_dim, 2);
	CU_ASSERT_EQUAL(s.values[0], 1);
	CU_ASSERT_EQUAL(s.values[1], 10);
	CU_ASSERT_EQUAL(s.values[2], 1);   /* carried */
	CU_ASSERT_EQUAL(s.values[3], 11);
	CU_ASSERT_EQUAL(s.values[4], 3);
	CU_ASSERT_EQUAL(s.values[5], 11);  /* carried */
	CU_ASSERT_EQUAL(s.filled, 2);
	st_series_free(&s);

	/* no header, missing first value takes the first seen, no final newline */
	CU_ASSERT_EQUAL_FATAL(csv("0,nan\n1,2.5\n2,-1e3", &s, err), 0);
	CU_ASSERT_EQUAL(s.n_obs, 3);
	CU_ASSERT_EQUAL(s.values[0], 2.5);
	CU_ASSERT_EQUAL(s.values[2], -1000);
	st_series_free(&s);
}

static void test_csv_malformed(void)
{
	struct st_series s;
	char err[ST_SERIES_ERR_BYTES];

	CU_ASSERT_EQUAL(csv("t,v\n1,2\n2,abc\n", &s, err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 3"));
	CU_ASSERT_PTR_NULL(s.values);
	CU_ASSERT_EQUAL(csv("1,2\n2,3\n\n3,4,5\n", &s, err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 4"));
	CU_ASSERT_EQUAL(csv("1,2\n2,inf\n", &s, err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2"));
	CU_ASSERT_EQUAL(csv("only-one-field\n", &s, err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 1"));
	CU_ASSERT_EQUAL(csv("t,v\n", &s, err), -EINVAL);       /* header only */
	CU_ASSERT_EQUAL(csv("", &s, err), -EINVAL);
	CU_ASSERT_EQUAL(csv("1,\n2,NA\n", &s, err), -EINVAL);  /* no value at all */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no value"));
	CU_ASSERT_EQUAL(st_series_parse("1,2\n2\0,3\n", 9, &s, err), -EINVAL);
}

static void test_csv_truncated(void)
{
	static const char full[] = "t,v\n1,2\n2,3\n3,4\n";
	struct st_series s;
	char err[ST_SERIES_ERR_BYTES];

	/* cut inside the last line's timestamp: one field, an error naming it */
	CU_ASSERT_EQUAL(st_series_parse(full, strlen(full) - 3, &s, err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 4"));
	/* cut after the comma: the value is missing and carried */
	CU_ASSERT_EQUAL_FATAL(st_series_parse(full, strlen(full) - 2, &s, err), 0);
	CU_ASSERT_EQUAL(s.n_obs, 3);
	CU_ASSERT_EQUAL(s.values[2], 3);
	CU_ASSERT_EQUAL(s.filled, 1);
	st_series_free(&s);
}

static const char tcpd_good[] =
	"{\"name\": \"demo\", \"n_obs\": 4, \"n_dim\": 2,"
	" \"time\": {\"index\": [0, 1, 2, 3]},"
	" \"series\": [{\"label\": \"V1\", \"raw\": [1, null, 3.5, 4]},"
	"              {\"label\": \"V2\", \"raw\": [null, -2, -3, null]}]}";

static void test_tcpd_good(void)
{
	struct st_series s;
	char err[ST_SERIES_ERR_BYTES];

	CU_ASSERT_EQUAL_FATAL(st_series_parse(tcpd_good, strlen(tcpd_good), &s, err), 0);
	CU_ASSERT_STRING_EQUAL(s.name, "demo");
	CU_ASSERT_EQUAL(s.n_obs, 4);
	CU_ASSERT_EQUAL(s.n_dim, 2);
	CU_ASSERT_EQUAL(s.values[0 * 2 + 0], 1);
	CU_ASSERT_EQUAL(s.values[1 * 2 + 0], 1);    /* carried */
	CU_ASSERT_EQUAL(s.values[2 * 2 + 0], 3.5);
	CU_ASSERT_EQUAL(s.values[0 * 2 + 1], -2);   /* first value seen */
	CU_ASSERT_EQUAL(s.values[3 * 2 + 1], -3);   /* carried */
	CU_ASSERT_EQUAL(s.filled, 3);
	st_series_free(&s);
}

static void expect_tcpd_error(const char *doc, const char *words)
{
	struct st_series s;
	char err[ST_SERIES_ERR_BYTES];

	CU_ASSERT_EQUAL(st_series_parse_tcpd(doc, strlen(doc), &s, err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, words));
	CU_ASSERT_PTR_NULL(s.values);
}

static void test_tcpd_malformed_and_truncated(void)
{
	size_t cut;

	expect_tcpd_error("[1, 2]", "not a JSON object");
	expect_tcpd_error("{\"n_obs\": 2, \"n_dim\": 1, \"series\": [{\"raw\": [1]}]}",
			  "series[0].raw has 1 values");
	expect_tcpd_error("{\"n_obs\": 2, \"n_dim\": 1, \"series\": [{\"raw\": [1, \"x\"]}]}",
			  "series[0].raw[1] is not a number");
	expect_tcpd_error("{\"n_obs\": 2, \"n_dim\": 2, \"series\": [{\"raw\": [1, 2]}]}",
			  "\"series\" has 1 entries");
	expect_tcpd_error("{\"n_obs\": 0, \"n_dim\": 1, \"series\": []}", "\"n_obs\" is 0");
	expect_tcpd_error("{\"n_dim\": 1, \"series\": []}", "\"n_obs\" is missing");
	expect_tcpd_error("{\"n_obs\": 2, \"n_dim\": 1, \"time\": {\"index\": [0]},"
			  " \"series\": [{\"raw\": [1, 2]}]}", "time.index has 1");
	expect_tcpd_error("{\"n_obs\": 2, \"n_dim\": 1, \"series\": [{\"raw\": [null, null]}]}",
			  "no value");
	/* every truncation of a good document is an error, never a crash */
	for (cut = 1; cut < strlen(tcpd_good); cut++) {
		struct st_series s;
		char err[ST_SERIES_ERR_BYTES];

		CU_ASSERT_EQUAL(st_series_parse_tcpd(tcpd_good, cut, &s, err), -EINVAL);
	}
	expect_tcpd_error("{\"n_obs\": 1, \"n_dim\": 1, \"series\": [{\"raw\": [1]}]",
			  "JSON line 1");
}

ST_TEST_MAIN("control/detect/series",
	ST_TEST(test_csv_header_dims_missing),
	ST_TEST(test_csv_malformed),
	ST_TEST(test_csv_truncated),
	ST_TEST(test_tcpd_good),
	ST_TEST(test_tcpd_malformed_and_truncated))
