/*
 * Background trainer of one isolation forest (iforest.h): a thread that,
 * every `refresh_s` seconds or when asked (st_trainer_retrain), gathers
 * training rows through a caller's callback (the daemon reads them from the
 * store), trains a forest with the next model version, writes it to the
 * model file (atomic replace) and publishes it to the scoring threads.
 *
 * Publication.  The current forest sits behind a mutex that is held only to
 * swap the pointer or to take a reference to it: no training, I/O or
 * callback ever runs under it, so a scorer waits at most for a pointer copy
 * and an atomic increment.  A scorer keeps its own reference for as long as
 * it likes (st_trainer_model ... st_iforest_destroy); a forest replaced
 * while in use is freed by whoever drops its last reference.  To avoid even
 * that mutex per vector, a scorer compares st_trainer_version() (one atomic
 * load) with the version of the forest it holds, and takes a new reference
 * only when they differ.
 *
 * Start-up.  st_trainer_create() loads the model file when there is one of
 * the expected schema (st_iforest_load), so scoring starts at once with the
 * last model and its version counter; a file that is missing, damaged or of
 * another schema is not fatal: it is noted in the statistics (load_error)
 * and the first training replaces it.
 *
 * Seeds.  Training n uses params.seed mixed with the new model version, so
 * successive models differ and a given version is reproducible from the
 * same rows.
 */
#ifndef ST_CONTROL_MODELS_TRAINER_H
#define ST_CONTROL_MODELS_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "control/models/iforest.h"

#define ST_TRAINER_WHY_BYTES 160

/* Where the callback puts training rows; bounded by max_rows. */
struct st_trainer_rows;

/*
 * Appends one row of schema.dim doubles (non-finite = missing) to the
 * training set.  Returns 0, or -ENOSPC when max_rows rows are already held
 * (the row is not added: the callback may stop), -ENOMEM.  Only from
 * inside the fill callback, on the trainer's thread.
 */
int st_trainer_rows_add(struct st_trainer_rows *rows, const double *row);

/*
 * The caller's source of rows: adds the training rows with
 * st_trainer_rows_add() and returns 0, or -errno to fail this training (it
 * is counted, and the current model stays).  Runs on the trainer's thread,
 * with no trainer lock held.
 */
typedef int (*st_trainer_fill_fn)(void *ctx, struct st_trainer_rows *rows);

struct st_trainer_conf {
	struct st_iforest_schema schema;
	struct st_iforest_params params;
	const char *model_path;      /* copied; NULL: nothing persisted or loaded */
	uint32_t refresh_s;          /* period (config model_refresh_s); 0: on request only */
	size_t min_rows;             /* fewer rows fail the training (ENODATA); >= 2 */
	size_t max_rows;             /* rows_add refuses past this; >= min_rows */
	st_trainer_fill_fn fill;
	void *ctx;
};

struct st_trainer_stats {
	uint64_t trainings;          /* models published */
	uint64_t failures;           /* trainings that published nothing */
	uint64_t save_failures;      /* models published but not written to
				      * model_path (the file keeps the old one) */
	uint64_t last_train_ns;      /* wall clock of the last publication, 0 none */
	uint64_t last_duration_ns;   /* fill + train + save of that training */
	uint64_t last_rows;          /* rows it was trained on */
	uint32_t version;            /* current model's version, 0 none */
	int last_error;              /* -errno of the last failure or save
				      * failure, 0 none */
	char last_error_why[ST_TRAINER_WHY_BYTES]; /* its one-line reason */
	int load_error;              /* -errno of the start-up load, 0 loaded or no path */
	char load_why[ST_TRAINER_WHY_BYTES];
};

struct st_trainer;

/*
 * A trainer, not running yet.  Loads conf->model_path (see the file head).
 * Returns NULL with errno EINVAL (conf NULL, no fill callback, schema or
 * params out of range, min_rows < 2, max_rows < min_rows), ENOMEM.  The
 * caller owns it (st_trainer_destroy).
 */
struct st_trainer *st_trainer_create(const struct st_trainer_conf *conf);

/*
 * Starts the thread.  Returns 0, -EALREADY (started), -errno of
 * pthread_create.  The first training runs at once when no model was
 * loaded, else refresh_s after the start.  One controlling thread.
 */
int st_trainer_start(struct st_trainer *t);

/*
 * Asks for a training now; does not wait.  Requests made while a training
 * runs are folded into one more training after it.  Returns 0, or -ESRCH
 * when the thread is not running.  Any thread.
 */
int st_trainer_retrain(struct st_trainer *t);

/*
 * Waits until at least `attempts` trainings have finished (published or
 * failed, counted since create), or timeout_ms elapse.  Returns 0, or
 * -ETIMEDOUT.  Any thread (not the fill callback).
 */
int st_trainer_wait(struct st_trainer *t, uint64_t attempts, uint32_t timeout_ms);

/*
 * Stops the thread: a training under way finishes first (the callback is
 * not interrupted), then the thread is joined.  The current model stays
 * readable.  A no-op when not running.  One controlling thread.
 */
void st_trainer_stop(struct st_trainer *t);

/* Stops it and frees it, dropping its reference to the model.  NULL is a no-op. */
void st_trainer_destroy(struct st_trainer *t);

/*
 * The current forest with one reference for the caller (release with
 * st_iforest_destroy), or NULL when there is none yet.  Locks the
 * publication mutex for a pointer copy only.  Any thread.
 */
struct st_iforest *st_trainer_model(struct st_trainer *t);

/* The current model's version, 0 none: one atomic load.  Any thread. */
uint32_t st_trainer_version(const struct st_trainer *t);

/* A consistent copy of the statistics.  Any thread. */
void st_trainer_stats(struct st_trainer *t, struct st_trainer_stats *out);

#endif
