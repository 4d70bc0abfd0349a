/*
 * shadowtap-gen's text parsers, linked directly (tools/gen's library): the
 * --start time, the NAB trace CSV rows and the stream names.  Each bug the
 * gen_spec fuzz target (tests/fuzz/gen) or its review found has a case here.
 *
 * Oracles: epoch seconds from GNU date (`date -u -d 2026-01-01T00:00:00Z
 * +%s` = 1767225600, 2106-02-07T06:28:15Z = 4294967295, 2024-02-29T23:59:59Z
 * = 1709251199); nyc_taxi.csv's first rows and its largest value (39197)
 * read with head and awk; Kafka's topic characters from Apache Kafka's
 * Topic.java; the NAB CSVs of ../shared/data, valid by provenance but for
 * one whose timestamps step back (seen with sed).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "st_test.h"
#include "tools/gen/gen.h"

#define NS 1000000000LL

static void test_start_both_forms(void)
{
	int64_t ns = 0;

	CU_ASSERT_EQUAL(st_gen_parse_start("2026-01-01T00:00:00Z", &ns), 0);
	CU_ASSERT_EQUAL(ns, 1767225600LL * NS);
	CU_ASSERT_EQUAL(st_gen_parse_start("2024-02-29T23:59:59.5Z", &ns), 0);
	CU_ASSERT_EQUAL(ns, 1709251199LL * NS + 500000000);
	CU_ASSERT_EQUAL(st_gen_parse_start("2106-02-07T06:28:15.999999Z", &ns), 0);
	CU_ASSERT_EQUAL(ns, 4294967295LL * NS + 999999000);
	CU_ASSERT_EQUAL(st_gen_parse_start("1970-01-01T00:00:00Z", &ns), 0);
	CU_ASSERT_EQUAL(ns, 0);
	CU_ASSERT_EQUAL(st_gen_parse_start("@1767225600", &ns), 0);
	CU_ASSERT_EQUAL(ns, 1767225600LL * NS);
	CU_ASSERT_EQUAL(st_gen_parse_start("@4294967295.25", &ns), 0);
	CU_ASSERT_EQUAL(ns, 4294967295LL * NS + 250000000);
}

/* Bug: the fraction went through double and truncation, .000260 gave 259 us. */
static void test_start_fraction_is_exact(void)
{
	int64_t ns = 0;

	CU_ASSERT_EQUAL(st_gen_parse_start("2026-01-01T00:00:00.000260Z", &ns), 0);
	CU_ASSERT_EQUAL(ns, 1767225600LL * NS + 260000);
	/* bug: '@' kept nanoseconds, so ticks fell between pcap's microseconds */
	CU_ASSERT_EQUAL(st_gen_parse_start("@1767225600.0000019", &ns), 0);
	CU_ASSERT_EQUAL(ns, 1767225600LL * NS + 1000);
}

static void test_start_rejects(void)
{
	static const char *const bad[] = {
		"@nan", "@inf", "@-1", "@1e9", "@0x10", "@", "@1.", "@ 5",  /* @nan was a float-cast UB */
		"2026-01-01T00:00:00.5e300Z",   /* the fraction was strtod's: inf * 1e9 */
		"2026-01-01T00:00:00.Z",
		"9999-12-31T23:59:59Z",         /* overflowed int64 ns */
		"2106-02-07T06:28:16Z", "@4294967296", "@99999999999999999999999",
		"2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-01-01T24:00:00Z",
		"2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z", "2026-00-01T00:00:00Z",
		"1969-12-31T23:59:59Z", "2026-1-01T00:00:00Z", "2026-01-01 00:00:00Z",
		"2026-01-01T00:00:00", "2026-01-01T00:00:00Zx", "", "+2026-01-01T00:00:00Z",
	};
	int64_t ns = -7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(st_gen_parse_start(bad[i], &ns), -EINVAL);
		if (ns != -7)
			fprintf(stderr, "accepted --start %s\n", bad[i]);
	}
	CU_ASSERT_EQUAL(ns, -7);
}

static void test_durations(void)
{
	int64_t ns = -7;

	CU_ASSERT_EQUAL(st_gen_parse_duration("1500ms", &ns), 0);
	CU_ASSERT_EQUAL(ns, 1500000000LL);
	CU_ASSERT_EQUAL(st_gen_parse_duration("2m", &ns), 0);
	CU_ASSERT_EQUAL(ns, 120 * NS);
	CU_ASSERT_EQUAL(st_gen_parse_duration("-1s", &ns), -EINVAL);
	CU_ASSERT_EQUAL(st_gen_parse_duration("nan", &ns), -EINVAL);
	CU_ASSERT_EQUAL(st_gen_parse_duration("1e18ms", &ns), -EINVAL);
	CU_ASSERT_EQUAL(ns, 120 * NS);
}

/* A trace spec over a CSV held in memory; *rate is NULL on error (errno). */
static struct st_gen_rate *trace_of(struct st_gen_stream_spec *spec, const char *csv,
				    char *err, size_t err_size)
{
	struct st_gen_rate *rate;
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(st_gen_spec_parse("nats:t,shape=trace:mem.csv,compress=1,peak=100",
						false, spec, err, err_size), 0);
	f = fmemopen((void *)csv, strlen(csv), "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	rate = st_gen_rate_create_from(spec, f, err, err_size);
	fclose(f);
	return rate;
}

static void expect_bad_trace(const char *csv, const char *why)
{
	struct st_gen_stream_spec spec;
	struct st_gen_rate *rate;
	char err[512] = "";

	errno = 0;
	rate = trace_of(&spec, csv, err, sizeof(err));
	CU_ASSERT_PTR_NULL(rate);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "shape=trace:mem.csv"));
	if (rate) {
		fprintf(stderr, "accepted trace (%s)\n", why);
		st_gen_rate_destroy(rate);
	}
}

static void test_trace_rows(void)
{
	struct st_gen_stream_spec spec;
	struct st_gen_rate *rate;
	char err[512] = "";

	/* rows of 1 s each: the rate steps at 1 s and 2 s, largest value 40 -> 100/s */
	rate = trace_of(&spec, "timestamp,value\r\n2014-07-01 00:00:00,10\r\n"
			"\r\n2014-07-01 00:00:01,40 \r\n2014-07-01 00:00:02,-3\r\n", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(rate);
	CU_ASSERT_DOUBLE_EQUAL(st_gen_rate_at(rate, 0.5), 25.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(st_gen_rate_at(rate, 1.5), 100.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(st_gen_rate_at(rate, 2.5), 0.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(st_gen_rate_at(rate, 3.5), 25.0, 1e-9);  /* period 3 s */
	st_gen_rate_destroy(rate);

	/* bug: a year of INT_MIN overflowed tm_year -= 1900 (UBSan) */
	expect_bad_trace("-2147483648-01-01 00:00:00,1\n2014-07-01 00:00:01,4\n", "INT_MIN year");
	expect_bad_trace("2014-07-01 00:00:00,1\n2014-13-01 00:00:01,4\n", "month 13");
	/* bug: junk after the value or before the comma was ignored */
	expect_bad_trace("2014-07-01 00:00:00,1\n2014-07-01 00:00:01,4abc\n", "junk after the value");
	expect_bad_trace("2014-07-01 00:00:00,1\n2014-07-01 00:00:01junk,4\n", "junk before the comma");
	expect_bad_trace("2014-07-01 00:00:00,1\n2014-07-01 00:00:00,4\n", "time not increasing");
	expect_bad_trace("2014-07-01 00:00:00,0\n2014-07-01 00:00:01,-4\n", "no positive value");
}

/* Bug: a row longer than the line buffer went on as a second row. */
static void test_trace_long_line(void)
{
	char csv[1024];

	snprintf(csv, sizeof(csv), "2014-07-01 00:00:00,1\n2014-07-01 00:00:01,4%*s"
		 "2014-07-01 00:00:02,9\n", 300, "");
	expect_bad_trace(csv, "a 330-byte row read as two rows");
}

static int load_nab_dir(const char *dir, unsigned *loaded)
{
	struct st_gen_stream_spec spec;
	struct st_gen_rate *rate;
	struct dirent *d;
	char err[512];
	DIR *dp = opendir(dir);

	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	while ((d = readdir(dp))) {
		size_t n = strlen(d->d_name);
		char path[1024], text[1200];

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (d->d_type == DT_DIR) {
			load_nab_dir(path, loaded);
			continue;
		}
		if (n < 4 || strcmp(d->d_name + n - 4, ".csv"))
			continue;
		snprintf(text, sizeof(text), "nats:t,shape=trace:%s", path);
		CU_ASSERT_EQUAL_FATAL(st_gen_spec_parse(text, false, &spec, err, sizeof(err)), 0);
		rate = st_gen_rate_create(&spec, err, sizeof(err));
		if (!strcmp(d->d_name, "machine_temperature_system_failure.csv")) {
			/* its rows go 02:50, 02:55, then back to 02:00 (line 10151) */
			CU_ASSERT_PTR_NULL(rate);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, ".csv:10151: timestamps must increase"));
		} else {
			CU_ASSERT_PTR_NOT_NULL(rate);
			if (!rate)
				fprintf(stderr, "%s\n", err);
		}
		*loaded += rate != NULL;
		st_gen_rate_destroy(rate);
	}
	closedir(dp);
	return 0;
}

static void test_trace_nab_files_load(void)
{
	struct st_gen_stream_spec spec;
	struct st_gen_rate *rate;
	char text[1200], err[512];
	unsigned loaded = 0;

	load_nab_dir(st_test_data_path("traces/nab"), &loaded);
	CU_ASSERT(loaded >= 10);
	/* nyc_taxi: 30-minute rows, compress 1800 -> 1 s; values 10844, 8127; max 39197 */
	snprintf(text, sizeof(text), "nats:t,shape=trace:%s,compress=1800,peak=2000",
		 st_test_data_path("traces/nab/realKnownCause/nyc_taxi.csv"));
	CU_ASSERT_EQUAL_FATAL(st_gen_spec_parse(text, false, &spec, err, sizeof(err)), 0);
	rate = st_gen_rate_create(&spec, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(rate);
	CU_ASSERT_DOUBLE_EQUAL(st_gen_rate_at(rate, 0.5), 10844.0 / 39197 * 2000, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(st_gen_rate_at(rate, 1.5), 8127.0 / 39197 * 2000, 1e-9);
	st_gen_rate_destroy(rate);
}

static void expect_name(const char *text, bool ok)
{
	struct st_gen_stream_spec spec;
	char err[512] = "";
	int rc = st_gen_spec_parse(text, false, &spec, err, sizeof(err));

	CU_ASSERT_EQUAL(rc, ok ? 0 : -EINVAL);
	if ((rc == 0) != ok)
		fprintf(stderr, "%s: %s\n", text, ok ? err : "accepted");
}

/* Bug: any bytes were a name, so the truth's JSON could hold invalid UTF-8. */
static void test_stream_names(void)
{
	expect_name("kafka:orders.eu_1-x", true);
	expect_name("kafka:a b", false);
	expect_name("kafka:a/b", false);
	expect_name("kafka:..", false);
	expect_name("kafka:caf\xc3\xa9", false);
	expect_name("mqtt:sensors/temp/caf\xc3\xa9 1", true);
	expect_name("mqtt:a\xff", false);
	expect_name("mqtt:a\xc3", false);
	expect_name("mqtt:a\x01", false);
	expect_name("mqtt:a\xc2\x85", false);     /* U+0085, a C1 control */
	expect_name("mqtt:a/+", false);
	expect_name("nats:orders.eu", true);
	expect_name("nats:a..b", false);
	expect_name("nats:.a", false);
	expect_name("nats:a.", false);
	expect_name("nats:a\x7f", false);
	expect_name("nats:a.*", false);
}

ST_TEST_MAIN("tools/gen/spec",
	ST_TEST(test_start_both_forms),
	ST_TEST(test_start_fraction_is_exact),
	ST_TEST(test_start_rejects),
	ST_TEST(test_durations),
	ST_TEST(test_trace_rows),
	ST_TEST(test_trace_long_line),
	ST_TEST(test_trace_nab_files_load),
	ST_TEST(test_stream_names))
