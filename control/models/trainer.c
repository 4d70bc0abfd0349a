/*
 * Background trainer: one thread per trainer that sleeps on a condition
 * variable (CLOCK_MONOTONIC deadlines), trains, saves and publishes.  The
 * design is in trainer.h.  Two locks, never nested: `lock` guards the
 * thread's state and the statistics, `model_lock` guards only the pointer
 * to the published forest.
 */
#include "control/models/trainer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct st_trainer_rows {
	double *data;
	size_t n, cap, max;
	unsigned dim;
};

struct st_trainer {
	struct st_trainer_conf conf;
	char *model_path;

	pthread_mutex_t model_lock;
	struct st_iforest *model;
	atomic_uint version;

	pthread_mutex_t lock;
	pthread_cond_t wake;         /* to the thread: a request or stop */
	pthread_cond_t done;         /* from the thread: an attempt finished */
	pthread_t thread;
	bool running, stopping, requested;
	uint64_t attempts;
	struct st_trainer_stats stats;
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec monotonic_after_ms(uint64_t ms)
{
	uint64_t ns = clock_ns(CLOCK_MONOTONIC) + ms * 1000000ull;

	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull),
				  .tv_nsec = (long)(ns % 1000000000ull) };
}

int st_trainer_rows_add(struct st_trainer_rows *rows, const double *row)
{
	if (rows->n >= rows->max)
		return -ENOSPC;
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 1024;
		double *data;

		cap = cap > rows->max ? rows->max : cap;
		data = realloc(rows->data, cap * rows->dim * sizeof(*data));
		if (!data)
			return -ENOMEM;
		rows->data = data;
		rows->cap = cap;
	}
	memcpy(&rows->data[rows->n * rows->dim], row, rows->dim * sizeof(*row));
	rows->n++;
	return 0;
}

/* Replaces the published forest (takes over the caller's reference). */
static void publish(struct st_trainer *t, struct st_iforest *f)
{
	struct st_iforest *old;

	pthread_mutex_lock(&t->model_lock);
	old = t->model;
	t->model = f;
	atomic_store_explicit(&t->version, f ? st_iforest_version(f) : 0,
			      memory_order_release);
	pthread_mutex_unlock(&t->model_lock);
	st_iforest_destroy(old);
}

struct st_iforest *st_trainer_model(struct st_trainer *t)
{
	struct st_iforest *f;

	pthread_mutex_lock(&t->model_lock);
	f = st_iforest_ref(t->model);
	pthread_mutex_unlock(&t->model_lock);
	return f;
}

uint32_t st_trainer_version(const struct st_trainer *t)
{
	return atomic_load_explicit(&t->version, memory_order_acquire);
}

/* The outcome of one training, for the statistics. */
struct attempt {
	int err;                     /* 0: published */
	int save_err;
	uint64_t rows;
	uint32_t version;
	char why[ST_TRAINER_WHY_BYTES];
};

static void train_once(struct st_trainer *t, struct attempt *a)
{
	struct st_trainer_rows rows = {
		.max = t->conf.max_rows, .dim = t->conf.schema.dim,
	};
	struct st_iforest_params params = t->conf.params;
	struct st_iforest *f;

	a->version = st_trainer_version(t) + 1;
	a->err = t->conf.fill(t->conf.ctx, &rows);
	if (a->err) {
		snprintf(a->why, sizeof(a->why), "fill callback: %s", strerror(-a->err));
		goto out_free;
	}
	a->rows = rows.n;
	if (rows.n < t->conf.min_rows) {
		a->err = -ENODATA;
		snprintf(a->why, sizeof(a->why), "%zu rows, fewer than %zu", rows.n,
			 t->conf.min_rows);
		goto out_free;
	}
	params.seed ^= (uint64_t)a->version * 0x9e3779b97f4a7c15ull;
	f = st_iforest_train(rows.data, rows.n, &t->conf.schema, &params,
			     a->version, clock_ns(CLOCK_REALTIME));
	if (!f) {
		a->err = -errno;
		snprintf(a->why, sizeof(a->why), "training: %s", strerror(errno));
		goto out_free;
	}
	if (t->model_path) {
		a->save_err = st_iforest_save(f, t->model_path);
		if (a->save_err)
			snprintf(a->why, sizeof(a->why), "saving %s: %s", t->model_path,
				 strerror(-a->save_err));
	}
	publish(t, f);
out_free:
	free(rows.data);
}

static void record(struct st_trainer *t, const struct attempt *a, uint64_t start_ns)
{
	struct st_trainer_stats *s = &t->stats;

	if (a->err == 0) {
		s->trainings++;
		s->last_train_ns = clock_ns(CLOCK_REALTIME);
		s->last_duration_ns = clock_ns(CLOCK_MONOTONIC) - start_ns;
		s->last_rows = a->rows;
	} else {
		s->failures++;
	}
	if (a->save_err)
		s->save_failures++;
	if (a->err || a->save_err) {
		s->last_error = a->err ? a->err : a->save_err;
		snprintf(s->last_error_why, sizeof(s->last_error_why), "%s", a->why);
	}
	t->attempts++;
}

static void *trainer_main(void *arg)
{
	struct st_trainer *t = arg;
	uint64_t period_ms = (uint64_t)t->conf.refresh_s * 1000u;
	struct timespec deadline = monotonic_after_ms(period_ms);
	bool due = st_trainer_version(t) == 0;

	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		struct attempt a = { 0 };
		uint64_t start_ns;

		if (!due && !t->requested) {
			int rc = period_ms ? pthread_cond_timedwait(&t->wake, &t->lock, &deadline)
					   : pthread_cond_wait(&t->wake, &t->lock);

			due = rc == ETIMEDOUT;
			continue;
		}
		t->requested = false;
		due = false;
		pthread_mutex_unlock(&t->lock);

		start_ns = clock_ns(CLOCK_MONOTONIC);
		train_once(t, &a);

		pthread_mutex_lock(&t->lock);
		record(t, &a, start_ns);
		pthread_cond_broadcast(&t->done);
		deadline = monotonic_after_ms(period_ms);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static bool conf_valid(const struct st_trainer_conf *c)
{
	return c && c->fill && c->schema.dim >= 1 &&
	       c->schema.dim <= ST_IFOREST_DIM_MAX && c->params.trees >= 1 &&
	       c->params.trees <= ST_IFOREST_TREES_MAX &&
	       c->params.sample >= ST_IFOREST_SAMPLE_MIN &&
	       c->params.sample <= ST_IFOREST_SAMPLE_MAX && c->min_rows >= 2 &&
	       c->max_rows >= c->min_rows;
}

static int init_sync(struct st_trainer *t)
{
	pthread_condattr_t attr;
	int err;

	if ((err = pthread_condattr_init(&attr)))
		return -err;
	err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!err && !(err = pthread_cond_init(&t->wake, &attr))) {
		if ((err = pthread_cond_init(&t->done, &attr)))
			pthread_cond_destroy(&t->wake);
	}
	pthread_condattr_destroy(&attr);
	if (err)
		return -err;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->model_lock, NULL);
	return 0;
}

/* Loads the model file, if any, as the first published model. */
static void load_existing(struct st_trainer *t)
{
	char why[ST_TRAINER_WHY_BYTES];
	struct st_iforest *f;

	if (!t->model_path)
		return;
	f = st_iforest_load(t->model_path, &t->conf.schema, why, sizeof(why));
	if (!f) {
		t->stats.load_error = -errno;
		snprintf(t->stats.load_why, sizeof(t->stats.load_why), "%s", why);
		return;
	}
	publish(t, f);
}

struct st_trainer *st_trainer_create(const struct st_trainer_conf *conf)
{
	struct st_trainer *t;
	int err;

	if (!conf_valid(conf)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto out_nomem;
	t->conf = *conf;
	if (conf->model_path && !(t->model_path = strdup(conf->model_path)))
		goto out_free;
	t->conf.model_path = t->model_path;
	atomic_init(&t->version, 0);
	err = init_sync(t);
	if (err) {
		free(t->model_path);
		free(t);
		errno = -err;
		return NULL;
	}
	load_existing(t);
	return t;
out_free:
	free(t);
out_nomem:
	errno = ENOMEM;
	return NULL;
}

int st_trainer_start(struct st_trainer *t)
{
	int err;

	pthread_mutex_lock(&t->lock);
	if (t->running) {
		pthread_mutex_unlock(&t->lock);
		return -EALREADY;
	}
	t->stopping = false;
	err = pthread_create(&t->thread, NULL, trainer_main, t);
	t->running = err == 0;
	pthread_mutex_unlock(&t->lock);
	return -err;
}

int st_trainer_retrain(struct st_trainer *t)
{
	int err = 0;

	pthread_mutex_lock(&t->lock);
	if (t->running && !t->stopping) {
		t->requested = true;
		pthread_cond_signal(&t->wake);
	} else {
		err = -ESRCH;
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

int st_trainer_wait(struct st_trainer *t, uint64_t attempts, uint32_t timeout_ms)
{
	struct timespec deadline = monotonic_after_ms(timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	while (t->attempts < attempts && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&t->done, &t->lock, &deadline);
	rc = t->attempts >= attempts ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void st_trainer_stop(struct st_trainer *t)
{
	pthread_mutex_lock(&t->lock);
	if (!t->running) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	t->stopping = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_mutex_lock(&t->lock);
	t->running = false;
	pthread_mutex_unlock(&t->lock);
}

void st_trainer_destroy(struct st_trainer *t)
{
	if (!t)
		return;
	st_trainer_stop(t);
	publish(t, NULL);
	pthread_cond_destroy(&t->done);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->model_lock);
	pthread_mutex_destroy(&t->lock);
	free(t->model_path);
	free(t);
}

void st_trainer_stats(struct st_trainer *t, struct st_trainer_stats *out)
{
	pthread_mutex_lock(&t->lock);
	*out = t->stats;
	pthread_mutex_unlock(&t->lock);
	out->version = st_trainer_version(t);
}
