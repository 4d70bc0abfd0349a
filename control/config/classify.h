/*
 * The bridge from the config file (control/config) to the data plane's
 * worker (dataplane/worker.h): the port map and the stream rules become
 * the worker's classifier, the parameters its sizes.
 */
#ifndef ST_SHADOWCTL_CLASSIFY_H
#define ST_SHADOWCTL_CLASSIFY_H

#include "control/config/config.h"
#include "dataplane/worker.h"

/* Fills *wc from cfg, classifier included (its ctx is cfg, which must
 * outlive the worker).  0, or -EINVAL with a message in err when the
 * parameters do not make a valid sketch set. */
int st_classify_worker_config(const struct st_config *cfg,
			      struct st_worker_config *wc, char *err, size_t err_len);

/* What the command lines of shadowctl analyze and shadowtap-dp give. */
struct st_classify_options {
	const char *config_path;         /* NULL: the built-in defaults */
	char *const *keys;               /* --key PATH, n_keys of them */
	unsigned n_keys;
	char *const *protos;             /* --proto PORT=PROTO */
	unsigned n_protos;
	unsigned long long epoch_ms;     /* --epoch-ms; 0: the config's */
};

/*
 * Loads the config (or the defaults), adds the key fields, applies the
 * port overrides and the epoch length, and fills *wc (its classifier's ctx
 * is *cfg_out, which the caller destroys after the worker).  0; -EINVAL
 * with a message in err for what the user gave wrong (a usage error);
 * another -errno with a message for anything else.
 */
int st_classify_from_options(const struct st_classify_options *o,
			     struct st_config **cfg_out, struct st_worker_config *wc,
			     char *err, size_t errlen);

#endif
