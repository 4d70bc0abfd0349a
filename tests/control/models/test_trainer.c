/*
 * Background trainer: start, retrain, stop; versions counted here; the
 * model file it leaves read back with the forest loader; a failing or
 * starved callback; the row bound; a model of another schema at start-up;
 * the period; and a scoring thread that keeps scoring while retrains swap
 * the model (run under ASan in the sanitizer build).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/models/trainer.h"
#include "st_test.h"

#define DIM 3

static const char *const names[DIM] = { "x", "y", "z" };

struct source {
	int fail;                    /* returned when not 0 */
	size_t rows;                 /* rows offered */
	atomic_int calls;
	size_t last_accepted;
	uint64_t rng;
};

static double next_unit(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*s >> 11) * 0x1.0p-53;
}

static int fill(void *ctx, struct st_trainer_rows *rows)
{
	struct source *src = ctx;

	atomic_fetch_add(&src->calls, 1);
	if (src->fail)
		return src->fail;
	src->last_accepted = 0;
	for (size_t i = 0; i < src->rows; i++) {
		double row[DIM];

		for (int q = 0; q < DIM; q++)
			row[q] = next_unit(&src->rng) - 0.5;
		if (st_trainer_rows_add(rows, row) != 0)
			break;
		src->last_accepted++;
	}
	return 0;
}

static char tmpdir[64];

static const char *path(void)
{
	static char p[128];

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/st-trainer-XXXXXX");
		CU_ASSERT_FATAL(mkdtemp(tmpdir) != NULL);
	}
	snprintf(p, sizeof(p), "%s/forest.bin", tmpdir);
	return p;
}

static struct st_trainer_conf conf_for(struct source *src, const char *model_path)
{
	struct st_trainer_conf c = {
		.params = { .trees = 20, .sample = 64, .seed = 1 },
		.model_path = model_path,
		.refresh_s = 0,
		.min_rows = 10,
		.max_rows = 5000,
		.fill = fill,
		.ctx = src,
	};

	CU_ASSERT_FATAL(st_iforest_schema_init(&c.schema, 1, names, DIM) == 0);
	return c;
}

static void test_start_retrain_stop(void)
{
	struct source src = { .rows = 1000, .rng = 1 };
	struct st_trainer_conf c;
	struct st_trainer *t;
	struct st_trainer_stats st;
	struct st_iforest *f;
	char why[128];

	unlink(path());
	c = conf_for(&src, path());
	t = st_trainer_create(&c);
	CU_ASSERT_FATAL(t != NULL);
	st_trainer_stats(t, &st);
	CU_ASSERT_EQUAL(st.load_error, -ENOENT);
	CU_ASSERT(st_trainer_model(t) == NULL);
	CU_ASSERT_EQUAL(st_trainer_retrain(t), -ESRCH);
	CU_ASSERT_EQUAL(st_trainer_start(t), 0);
	CU_ASSERT_EQUAL(st_trainer_start(t), -EALREADY);
	/* no model yet: the first training runs at once */
	CU_ASSERT_EQUAL(st_trainer_wait(t, 1, 30000), 0);
	CU_ASSERT_EQUAL(st_trainer_version(t), 1);
	CU_ASSERT_EQUAL(st_trainer_retrain(t), 0);
	CU_ASSERT_EQUAL(st_trainer_wait(t, 2, 30000), 0);
	CU_ASSERT_EQUAL(st_trainer_version(t), 2);
	st_trainer_stats(t, &st);
	CU_ASSERT_EQUAL(st.trainings, 2);
	CU_ASSERT_EQUAL(st.failures, 0);
	CU_ASSERT_EQUAL(st.last_rows, 1000);
	CU_ASSERT(st.last_train_ns > 0);
	CU_ASSERT_EQUAL(st.version, 2);
	f = st_trainer_model(t);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(st_iforest_version(f), 2);
	st_trainer_stop(t);
	st_trainer_stop(t);
	/* stopped: the model stays readable */
	CU_ASSERT_EQUAL(st_trainer_version(t), 2);
	st_trainer_destroy(t);
	{
		double x[DIM] = { 0, 0, 0 };

		CU_ASSERT(st_iforest_score(f, x) > 0); /* our reference outlives it */
	}
	st_iforest_destroy(f);
	CU_ASSERT_EQUAL(atomic_load(&src.calls), 2);

	/* the file holds version 2 */
	f = st_iforest_load(path(), &c.schema, why, sizeof(why));
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(st_iforest_version(f), 2);
	st_iforest_destroy(f);

	/* a new trainer starts from it and counts on */
	t = st_trainer_create(&c);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(st_trainer_version(t), 2);
	CU_ASSERT_EQUAL(st_trainer_start(t), 0);
	CU_ASSERT_EQUAL(st_trainer_retrain(t), 0);
	CU_ASSERT_EQUAL(st_trainer_wait(t, 1, 30000), 0);
	CU_ASSERT_EQUAL(st_trainer_version(t), 3);
	st_trainer_destroy(t);
	st_trainer_destroy(NULL);
}

static void test_failures_keep_the_model(void)
{
	struct source src = { .rows = 1000, .rng = 2 };
	struct st_trainer_conf c = conf_for(&src, NULL);
	struct st_trainer *t = st_trainer_create(&c);
	struct st_trainer_stats st;

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(st_trainer_start(t), 0);
	CU_ASSERT_EQUAL(st_trainer_wait(t, 1, 30000), 0);
	CU_ASSERT_EQUAL(st_trainer_version(t), 1);
	src.fail = -EIO;  /* the thread is idle: waits for a request */
	CU_ASSERT_EQUAL(st_trainer_retrain(t), 0);
	CU_ASSERT_EQUAL(st_trainer_wait(t, 2, 30000), 0);
	st_trainer_stats(t, &st);
	CU_ASSERT_EQUAL(st.failures, 1);
	CU_ASSERT_EQUAL(st.last_error, -EIO);
	CU_ASSERT(strstr(st.last_error_why, "fill callback") != NULL);
	CU_ASSERT_EQUAL(st_trainer_version(t), 1);
	src.fail = 0;
	src.rows = 5;      /* fewer than min_rows */
	CU_ASSERT_EQUAL(st_trainer_retrain(t), 0);
	CU_ASSERT_EQUAL(st_trainer_wait(t, 3, 30000), 0);
	st_trainer_stats(t, &st);
	CU_ASSERT_EQUAL(st.failures, 2);
	CU_ASSERT_EQUAL(st.last_error, -ENODATA);
	CU_ASSERT_EQUAL(st_trainer_version(t), 1);
	src.rows = 9000;   /* more than max_rows (5000) */
	CU_ASSERT_EQUAL(st_trainer_retrain(t), 0);
	CU_ASSERT_EQUAL(st_trainer_wait(t, 4, 30000), 0);
	st_trainer_stats(t, &st);
	CU_ASSERT_EQUAL(st.trainings, 2);
	CU_ASSERT_EQUAL(st.last_rows, 5000);
	CU_ASSERT_EQUAL(src.last_accepted, 5000);
	CU_ASSERT_EQUAL(st_trainer_version(t), 2);
	st_trainer_destroy(t);

	c.min_rows = 1;
	errno = 0;
	CU_ASSERT(st_trainer_create(&c) == NULL && errno == EINVAL);
	c.min_rows = 10;
	c.fill = NULL;
	CU_ASSERT(st_trainer_create(&c) == NULL && errno == EINVAL);
}

static void test_other_schema_at_start_is_not_used(void)
{
	const char *const other_names[DIM] = { "x", "y", "w" };
	struct source src = { .rows = 200, .rng = 3 };
	struct st_trainer_conf c = conf_for(&src, path()), other = c;
	struct st_trainer *t;
	struct st_trainer_stats st;

	CU_ASSERT_FATAL(st_iforest_schema_init(&other.schema, 1, other_names, DIM) == 0);
	unlink(path());
	t = st_trainer_create(&other);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(st_trainer_start(t), 0);
	CU_ASSERT_EQUAL(st_trainer_wait(t, 1, 30000), 0);
	st_trainer_destroy(t);

	t = st_trainer_create(&c);
	CU_ASSERT_FATAL(t != NULL);
	st_trainer_stats(t, &st);
	CU_ASSERT_EQUAL(st.load_error, -ESTALE);
	CU_ASSERT(strstr(st.load_why, "schema") != NULL);
	CU_ASSERT_EQUAL(st_trainer_version(t), 0);
	CU_ASSERT(st_trainer_model(t) == NULL);
	st_trainer_destroy(t);
}

static void test_period_trains_unasked(void)
{
	struct source src = { .rows = 200, .rng = 4 };
	struct st_trainer_conf c = conf_for(&src, NULL);
	struct st_trainer *t;

	c.refresh_s = 1;
	t = st_trainer_create(&c);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(st_trainer_start(t), 0);
	/* the first at once (no model), the next two on the period only */
	CU_ASSERT_EQUAL(st_trainer_wait(t, 3, 30000), 0);
	CU_ASSERT(st_trainer_version(t) >= 3);
	st_trainer_destroy(t);
}

struct scorer {
	struct st_trainer *trainer;
	atomic_bool stop;
	uint64_t scored, swaps, bad;
};

/* The daemon's pattern: hold a reference, swap it when the version moves. */
static void *score_loop(void *arg)
{
	struct scorer *s = arg;
	struct st_iforest *f = NULL;
	uint32_t held = 0;
	double x[DIM] = { 0.1, -0.2, 0.3 };

	while (!atomic_load(&s->stop)) {
		if (st_trainer_version(s->trainer) != held) {
			st_iforest_destroy(f);
			f = st_trainer_model(s->trainer);
			held = f ? st_iforest_version(f) : 0;
			s->swaps++;
		}
		if (f) {
			double score = st_iforest_score(f, x);

			s->bad += !(score > 0 && score <= 1);
			s->scored++;
		}
	}
	st_iforest_destroy(f);
	return NULL;
}

static void test_scoring_continues_across_swaps(void)
{
	struct source src = { .rows = 2000, .rng = 5 };
	struct st_trainer_conf c = conf_for(&src, path());
	struct scorer s = { 0 };
	pthread_t thread;

	unlink(path());
	s.trainer = st_trainer_create(&c);
	CU_ASSERT_FATAL(s.trainer != NULL);
	CU_ASSERT_FATAL(pthread_create(&thread, NULL, score_loop, &s) == 0);
	CU_ASSERT_EQUAL(st_trainer_start(s.trainer), 0);
	for (uint64_t i = 1; i <= 6; i++) {
		CU_ASSERT_EQUAL(st_trainer_wait(s.trainer, i, 30000), 0);
		CU_ASSERT_EQUAL(st_trainer_retrain(s.trainer), 0);
	}
	CU_ASSERT_EQUAL(st_trainer_wait(s.trainer, 7, 30000), 0);
	atomic_store(&s.stop, true);
	pthread_join(thread, NULL);
	printf("\n    %llu scores, %llu model swaps seen, version %u\n",
	       (unsigned long long)s.scored, (unsigned long long)s.swaps,
	       st_trainer_version(s.trainer));
	CU_ASSERT_EQUAL(st_trainer_version(s.trainer), 7);
	CU_ASSERT(s.scored > 0);
	CU_ASSERT(s.swaps >= 2);
	CU_ASSERT_EQUAL(s.bad, 0);
	st_trainer_destroy(s.trainer);
	unlink(path());
	rmdir(tmpdir);
}

ST_TEST_MAIN("control/models/trainer",
	ST_TEST(test_start_retrain_stop),
	ST_TEST(test_failures_keep_the_model),
	ST_TEST(test_other_schema_at_start_is_not_used),
	ST_TEST(test_period_trains_unasked),
	ST_TEST(test_scoring_continues_across_swaps))
