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

#endif
