/*
 * Shape templates: the full JSON scan (json.h) without its cost for a
 * stream whose records keep one shape.
 *
 * Most streams send records that differ only in their values: the same
 * member names in the same order, the same whitespace, the same nesting.
 * A template keeps one such document, accepted by st_json_scan(), as its
 * skeleton (every byte that is not a value slot) and its value slots:
 *   - scalar slot: each string that is not a member name, each number and
 *     literal; a later document may have any scalar there: a string (RFC
 *     8259 §7, its escapes and UTF-8 checked by the scanner's own
 *     st_json_check_escape / st_json_check_utf8), a number (§6, the
 *     scanner's json_scan_number) or true / false / null; except that a
 *     string a pointer captures must hold no escape (the scan decodes
 *     those into its scratch: such a document does not match);
 *   - array slot: a non-empty array holding only scalars, that no pointer
 *     of the plan reaches into; a later document may have there an array
 *     of any length (empty too) of such scalars, with any JSON whitespace
 *     around its elements and commas.
 * Such a document is valid, and st_json_scan() would give it the walk the
 * template predicts (the same paths; per path the same count, plus the
 * elements of the array slots; the types its slots hold) and capture the
 * same slots, because every byte the walk and the pointer matching look at
 * is in the skeleton.  So a match returns exactly what st_json_scan()
 * returns (0, and the same found / type / text / length / number bits for
 * every pointer, the same schema_updates count) and owes the schema
 * exactly the updates st_json_scan() would have made.  Those are not made
 * one by one: the template counts the documents and array elements it
 * matched and the types its slots saw, and st_json_tmpl_flush() adds them
 * (st_schema_add), which leaves the schema set as the one-by-one updates
 * would, provided each path of the template is already in the set or the
 * set is full, i.e. the template was learnt from a document scanned into
 * this same set, which the caller guarantees by flushing and forgetting
 * its templates whenever it resets or swaps the set.  A document that
 * would pass ST_JSON_WALK_FIELDS_MAX schema updates does not match.
 * Anything else is not a match (false): the caller scans the document.
 *
 * Learning computes the walk the slots imply (paths, counts, types) and
 * compares it with the walk st_json_scan() makes of the same document into
 * a scratch set: any difference refuses the template, so a flaw in that
 * model can cost matches, never give a wrong one.
 * tests/dataplane/json/test_json_tmpl.c and the json_tmpl fuzz target
 * compare matches with st_json_scan().
 *
 * Not learnt (st_json_tmpl_learn() false): documents longer than
 * ST_JSON_TMPL_DOC_MAX, with more than ST_JSON_TMPL_SLOTS_MAX slots, more
 * than ST_JSON_TMPL_PATHS_MAX distinct paths or a path of
 * ST_SCHEMA_PATH_MAX bytes or more, a member name written with an escape,
 * a container at depth ST_JSON_WALK_DEPTH_MAX or deeper, a walk limit met,
 * or whose plan captures a container or a string written with escapes.
 *
 * Memory: one template is about 6 KiB, allocated once.  A template belongs
 * to one thread.
 */
#ifndef ST_JSON_TMPL_H
#define ST_JSON_TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/json/json.h"

struct st_schema;

#define ST_JSON_TMPL_DOC_MAX 1024   /* bytes of a learnt document */
#define ST_JSON_TMPL_SLOTS_MAX 64   /* scalar values in it */
#define ST_JSON_TMPL_PATHS_MAX 24   /* distinct schema paths in it */

struct st_json_tmpl;

struct st_json_tmpl *st_json_tmpl_create(void);
void st_json_tmpl_destroy(struct st_json_tmpl *t);  /* NULL: no-op */

/*
 * A schema set for st_json_tmpl_learn() to scan into (one per thread is
 * enough; its content between calls means nothing).  NULL on ENOMEM.
 */
struct st_schema *st_json_tmpl_scratch_create(void);

/*
 * Learns `doc`, which st_json_scan(plan, doc, len, values, ...) has just
 * accepted, `values` being what it returned.  Scans the document once more
 * into `scratch` for its schema updates.  Drops what was owed and not
 * flushed (flush first).  false: the document cannot be a template (file
 * head); the template then matches nothing until a later learn succeeds.
 */
bool st_json_tmpl_learn(struct st_json_tmpl *t, const struct st_json_plan *plan,
			const uint8_t *doc, size_t len,
			const struct st_json_value *values,
			struct st_schema *scratch);

/*
 * true: `doc` has the template's shape; `values` (st_json_plan_size(plan)
 * entries, the plan given to learn) is written as st_json_scan() writes it,
 * texts pointing into `doc`; `stats` (may be NULL) gets what st_json_scan()
 * would add; the document's schema updates are owed until the next flush.
 * false: not the same shape, or no template; nothing written.
 */
bool st_json_tmpl_match(struct st_json_tmpl *t, const struct st_json_plan *plan,
			const uint8_t *doc, size_t len,
			struct st_json_value *values,
			struct st_json_scan_stats *stats);

/* Makes the owed schema updates in `schema` (the set the template was learnt
 * into); the template keeps its shape. */
void st_json_tmpl_flush(struct st_json_tmpl *t, struct st_schema *schema);

/* Flushes into `schema` and forgets the shape (the set is about to be reset
 * or swapped); st_json_tmpl_scan() learns at its next miss. */
void st_json_tmpl_retire(struct st_json_tmpl *t, struct st_schema *schema);

/* Documents matched since the last learn. */
uint64_t st_json_tmpl_hits(const struct st_json_tmpl *t);

/* What st_json_tmpl_scan() did with a document. */
enum st_json_tmpl_how {
	ST_JSON_TMPL_MATCHED,       /* the template's match */
	ST_JSON_TMPL_SCANNED,       /* the full scan */
	ST_JSON_TMPL_LEARNT,        /* the full scan, then a learn from it */
	ST_JSON_TMPL_REFUSED,       /* ... that refused the document */
};

/*
 * What a stream's scanner does with each value: st_json_tmpl_match(), and
 * when the document does not match, st_json_scan() into `schema` (not
 * NULL) and, when that accepts it and the template has missed often enough,
 * a flush and a learn from it (`learn_scratch` as st_json_tmpl_learn()'s).
 * Often enough: a template that matched at least ST_JSON_TMPL_PAID
 * documents and four times as many as it missed served the stream, which
 * has changed shape: the next learn comes at the next miss.  Any other
 * doubles the misses the next template waits for, up to
 * ST_JSON_TMPL_GAP_MAX, so that a stream whose shapes keep changing pays
 * at most one extra scan per ST_JSON_TMPL_GAP_MAX documents once the gap
 * has grown.  Returns what st_json_scan() returns; *how (may
 * be NULL) says which path was taken.
 */
#define ST_JSON_TMPL_PAID 8
#define ST_JSON_TMPL_GAP_MAX 1024

int st_json_tmpl_scan(struct st_json_tmpl *t, struct st_schema *learn_scratch,
		      const struct st_json_plan *plan, const uint8_t *doc,
		      size_t len, struct st_json_value *values, uint8_t *scratch,
		      size_t scratch_bytes, struct st_schema *schema,
		      struct st_json_scan_stats *stats, enum st_json_tmpl_how *how);

#endif
