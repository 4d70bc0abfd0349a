/*
 * Printing Shadow Profile records, as `shadowctl analyze` and `shadowctl
 * profiles` show them: a text report or one JSON object per record, parsed
 * from the record itself (what is printed is what crossed the ring).
 * Schema drift is judged against each stream's first printed epoch.
 *
 * Thread safety: a printer belongs to one thread.
 */
#ifndef ST_SHADOWCTL_PRINT_H
#define ST_SHADOWCTL_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_printer;

/* NULL with errno ENOMEM.  json: JSON lines on stdout; else text. */
struct st_printer *st_printer_create(bool json);
/* Frees the printer and its baselines; NULL is a no-op. */
void st_printer_destroy(struct st_printer *p);

/* Parses the profile record rec[0..len) and prints it.  0; -EINVAL with
 * *why set when the record is rejected; -ENOMEM. */
int st_printer_record(struct st_printer *p, const void *rec, size_t len,
		      const char **why);

#endif
