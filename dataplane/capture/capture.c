/*
 * What every capture backend shares: drop-reason names and close().
 */
#include <stddef.h>

#include "dataplane/capture/capture.h"

static const char *const drop_names[ST_CAPTURE_DROP__COUNT] = {
	[ST_CAPTURE_DROP_MISSED] = "missed",
	[ST_CAPTURE_DROP_NO_BUFFER] = "no_buffer",
	[ST_CAPTURE_DROP_INVALID] = "invalid",
};

const char *st_capture_drop_name(enum st_capture_drop d)
{
	return (unsigned)d < ST_CAPTURE_DROP__COUNT ? drop_names[d] : "?";
}

void st_capture_close(struct st_capture *c)
{
	if (c)
		c->ops->close(c);
}
