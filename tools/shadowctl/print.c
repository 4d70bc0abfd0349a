/*
 * Printing Shadow Profile records (print.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/codec/codec.h"
#include "dataplane/sketch/heavy.h"
#include "dataplane/sketch/quantile.h"
#include "dataplane/sketch/schema.h"
#include "dataplane/sketch/sset.h"
#include "dataplane/worker.h"
#include "jsonw.h"
#include "print.h"
#include "shadowctl.h"

#define TOP_KEYS_SHOWN 10
#define DRIFT_SHOWN 8

/* The first epoch's schema of a stream, kept for drift. */
struct baseline {
	char name[ST_PROFILE_NAME_BYTES];
	unsigned n;
	struct st_schema_entry *entries;
	struct baseline *next;
};


struct st_printer {
	bool json;
	struct baseline *baselines;
};

static const char *const type_names[] = {
	"null", "false", "true", "number", "string", "object", "array",
};

static void print_types(FILE *out, uint8_t mask, bool json)
{
	bool first = true;

	if (json)
		fputc('[', out);
	for (unsigned i = 0; i < 7; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (json)
			fprintf(out, "%s\"%s\"", first ? "" : ",", type_names[i]);
		else
			fprintf(out, "%s%s", first ? "" : "|", type_names[i]);
		first = false;
	}
	if (json)
		fputc(']', out);
}

static struct baseline *baseline_find(struct st_printer *a, const char *name)
{
	for (struct baseline *b = a->baselines; b; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

static int baseline_add(struct st_printer *a, const char *name,
			const struct st_schema_entry *e, unsigned n)
{
	struct baseline *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->entries = calloc(n ? n : 1, sizeof(*e));
	if (!b->entries) {
		free(b);
		return -ENOMEM;
	}
	memcpy(b->entries, e, n * sizeof(*e));
	b->n = n;
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->next = a->baselines;
	a->baselines = b;
	return 0;
}

static const struct st_schema_entry *entry_find(const struct st_schema_entry *e,
						unsigned n, uint64_t hash)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].path_hash == hash)
			return &e[i];
	return NULL;
}

/* Drift of `cur` against the baseline: added, missing, type-changed. */
static void print_drift(FILE *out, const struct baseline *b,
			const struct st_schema_entry *cur, unsigned n, bool json)
{
	static const char *const kinds[] = { "added", "missing", "type_changed" };
	unsigned total = 0;

	if (json)
		fputs(",\"schema_drift\":{", out);
	for (unsigned k = 0; k < 3; k++) {
		unsigned shown = 0, count = 0;

		if (json)
			fprintf(out, "%s\"%s\":[", k ? "," : "", kinds[k]);
		/* added and type_changed walk the current schema, missing the
		 * baseline */
		const struct st_schema_entry *set = k == 1 ? b->entries : cur;
		unsigned set_n = k == 1 ? b->n : n;

		for (unsigned i = 0; i < set_n; i++) {
			const struct st_schema_entry *other =
				k == 1 ? entry_find(cur, n, set[i].path_hash)
				       : entry_find(b->entries, b->n, set[i].path_hash);
			bool hit = k == 0 ? !other
				 : k == 1 ? !other
				 : other && other->type_mask != set[i].type_mask;

			if (!hit)
				continue;
			count++;
			if (json) {
				fputs(shown ? ",{\"path\":" : "{\"path\":", out);
				st_jw_str(out, set[i].path, set[i].path_len);
				if (k == 2) {
					fputs(",\"was\":", out);
					print_types(out, other->type_mask, true);
					fputs(",\"now\":", out);
					print_types(out, set[i].type_mask, true);
				}
				fputc('}', out);
				shown++;
			} else if (shown < DRIFT_SHOWN) {
				fprintf(out, "%s%c%.*s", shown ? ", " : total ? "; " : "",
					k == 0 ? '+' : k == 1 ? '-' : '~',
					(int)set[i].path_len, set[i].path);
				if (k == 2) {
					fputs(" ", out);
					print_types(out, other->type_mask, false);
					fputs("->", out);
					print_types(out, set[i].type_mask, false);
				}
				shown++;
			}
		}
		if (json)
			fputc(']', out);
		else if (count > shown)
			fprintf(out, " (+%u more)", count - shown);
		total += count;
	}
	if (json)
		fputc('}', out);
	else if (!total)
		fputs("none", out);
}

static void print_top_keys_json(FILE *out, const struct st_hh *hh)
{
	struct st_hh_item items[TOP_KEYS_SHOWN];
	size_t n = st_hh_top(hh, items, TOP_KEYS_SHOWN);

	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"key\":" : "{\"key\":", out);
		st_jw_str(out, items[i].key, items[i].sample_len);
		fprintf(out, ",\"count\":%" PRIu64 ",\"error\":%" PRIu64 "}",
			items[i].count, items[i].error);
	}
	fputc(']', out);
}

static void print_top_keys_text(FILE *out, const struct st_hh *hh)
{
	struct st_hh_item items[5];
	size_t n = st_hh_top(hh, items, 5);

	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", out);
		for (unsigned j = 0; j < items[i].sample_len; j++) {
			uint8_t c = items[i].key[j];
			fputc(c >= 0x20 && c < 0x7f ? c : '.', out);
		}
		if (items[i].key_len > items[i].sample_len)
			fputs("...", out);
		fprintf(out, " %" PRIu64, items[i].count);
	}
}

/* A name of a key or numeric field for output. */
static const char *field_name(const struct st_profile_view *v, bool key, unsigned i)
{
	const char *n = key ? v->meta.key_field_names[i] : v->meta.numeric_field_names[i];
	return n ? n : "?";
}

static void emit_json(const struct st_profile_view *v,
		      const struct st_sset *set, uint8_t proto,
		      const struct st_schema_entry *entries, unsigned n_entries,
		      const struct baseline *base)
{
	FILE *out = stdout;
	const struct st_profile_counters *c = &v->counters;
	const struct st_profile_summary *s = &v->summary;
	double secs = (double)v->meta.epoch_ns / 1e9;

	fputs("{\"stream\":", out);
	st_jw_str(out, v->meta.name, strlen(v->meta.name));
	fprintf(out, ",\"protocol\":\"%s\",\"epoch_start_ns\":%" PRIu64
		",\"epoch_ns\":%" PRIu64 ",\"cores_merged\":%u,\"cores_expected\":%u"
		",\"partial\":%s,\"records\":%" PRIu64
		",\"bytes\":%" PRIu64 ",\"egress_records\":%" PRIu64
		",\"packets\":%" PRIu64 ",\"flows_active\":%" PRIu64
		",\"flows_new\":%" PRIu64 ",\"rate\":",
		st_proto_name((enum st_proto)proto), v->meta.epoch_start_ns, v->meta.epoch_ns,
		v->meta.cores_merged, v->meta.cores_expected,
		v->meta.flags & ST_PROFILE_F_PARTIAL ? "true" : "false", c->records, c->bytes, c->egress_records, c->packets, c->flows_active,
		c->flows_new);
	st_jw_num(out, (double)c->records / secs);
	fputs(",\"cardinality\":{", out);
	for (unsigned i = 0; i < v->key_fields; i++) {
		fputs(i ? "," : "", out);
		st_jw_str(out, field_name(v, true, i), strlen(field_name(v, true, i)));
		fputc(':', out);
		st_jw_num(out, round(s->cardinality[i]));
	}
	fputs("},\"top_keys\":", out);
	print_top_keys_json(out, st_sset_heavy_ro(set, 0));
	fputs(",\"top_keys_by_field\":{", out);
	for (unsigned i = 0; i < v->key_fields; i++) {
		fputs(i ? "," : "", out);
		st_jw_str(out, field_name(v, true, i), strlen(field_name(v, true, i)));
		fputc(':', out);
		print_top_keys_json(out, st_sset_heavy_ro(set, i));
	}
	fputs("},\"top1_share\":", out);
	st_jw_num(out, s->top1_share[0]);
	fputs(",\"topk_share\":", out);
	st_jw_num(out, s->topk_share[0]);
	fputs(",\"entropy_norm\":", out);
	st_jw_num(out, s->entropy_norm[0]);
	fputs(",\"gini\":", out);
	st_jw_num(out, s->gini[0]);
	fputs(",\"size_quantiles\":{\"p50\":", out);
	st_jw_num(out, s->size_p50);
	fputs(",\"p90\":", out);
	st_jw_num(out, s->size_p90);
	fputs(",\"p99\":", out);
	st_jw_num(out, s->size_p99);
	fputs("},\"numeric_quantiles\":{", out);
	for (unsigned i = 0; i < v->numeric_fields; i++) {
		const struct st_qs *q = st_sset_numeric_qs_ro(set, i);
		bool empty = st_qs_count(q) == 0;

		fputs(i ? "," : "", out);
		st_jw_str(out, field_name(v, false, i), strlen(field_name(v, false, i)));
		fprintf(out, ":{\"count\":%" PRIu64 ",\"p50\":", st_qs_count(q));
		st_jw_num(out, empty ? NAN : st_qs_estimate(q, 0.5));
		fputs(",\"p90\":", out);
		st_jw_num(out, empty ? NAN : st_qs_estimate(q, 0.9));
		fputs(",\"p99\":", out);
		st_jw_num(out, empty ? NAN : st_qs_estimate(q, 0.99));
		fputc('}', out);
	}
	fprintf(out, "},\"schema_fingerprint\":\"%016" PRIx64 "\",\"schema_fields\":[",
		s->schema_fingerprint);
	for (unsigned i = 0; i < n_entries; i++) {
		fputs(i ? ",{\"path\":" : "{\"path\":", out);
		st_jw_str(out, entries[i].path, entries[i].path_len);
		fputs(",\"types\":", out);
		print_types(out, entries[i].type_mask, true);
		fprintf(out, ",\"count\":%" PRIu64 "}", entries[i].count);
	}
	fputc(']', out);
	if (base)
		print_drift(out, base, entries, n_entries, true);
	fprintf(out, ",\"reassembly_gaps\":%" PRIu64 ",\"parse_errors\":{"
		"\"json_invalid\":%" PRIu64 ",\"codec\":%" PRIu64 "}"
		",\"drops\":{\"value_truncated\":%" PRIu64 "}",
		c->reassembly_gaps, c->parse_errors[ST_WORKER_PERR_JSON_INVALID],
		c->parse_errors[ST_WORKER_PERR_CODEC],
		c->drops[ST_WORKER_SDROP_VALUE_TRUNCATED]);
	if (v->kafka_partitions) {
		fputs(",\"kafka_partitions\":[", out);
		for (unsigned i = 0; i < v->kafka_partitions; i++)
			fprintf(out, "%s%" PRIu64, i ? "," : "", c->kafka_partition[i]);
		fputs("],\"kafka_imbalance\":", out);
		st_jw_num(out, s->kafka_imbalance);
	}
	fputs("}\n", out);
}

static void format_time(char *buf, size_t len, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;

	char date[32];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", date,
		 (unsigned)(ns % 1000000000u / 1000000u));
}

static void emit_text(const struct st_profile_view *v,
		      const struct st_sset *set, uint8_t proto,
		      const struct st_schema_entry *entries, unsigned n_entries,
		      const struct baseline *base)
{
	FILE *out = stdout;
	const struct st_profile_counters *c = &v->counters;
	const struct st_profile_summary *s = &v->summary;
	double secs = (double)v->meta.epoch_ns / 1e9;
	char when[48];

	format_time(when, sizeof(when), v->meta.epoch_start_ns);
	fprintf(out, "%s  %-28s %-5s records %" PRIu64 " (%.0f/s)  bytes %" PRIu64,
		when, v->meta.name, st_proto_name((enum st_proto)proto), c->records,
		(double)c->records / secs, c->bytes);
	if (c->egress_records)
		fprintf(out, "  egress %" PRIu64, c->egress_records);
	if (c->reassembly_gaps)
		fprintf(out, "  gaps %" PRIu64, c->reassembly_gaps);
	if (v->meta.flags & ST_PROFILE_F_PARTIAL)
		fprintf(out, "  PARTIAL (%u of %u cores)", v->meta.cores_merged,
			v->meta.cores_expected);
	fputc('\n', out);
	for (unsigned i = 0; i < v->key_fields; i++) {
		const struct st_hh *hh = st_sset_heavy_ro(set, i);

		if (st_hh_total(hh) == 0)
			continue;
		fprintf(out, "    key %-12s distinct ~%.0f  top1 %.1f%%  topk %.1f%%"
			"  entropy %.2f  gini %.2f\n      top: ",
			field_name(v, true, i), s->cardinality[i],
			100 * s->top1_share[i], 100 * s->topk_share[i],
			s->entropy_norm[i], s->gini[i]);
		print_top_keys_text(out, hh);
		fputc('\n', out);
	}
	if (c->records)
		fprintf(out, "    size p50/p90/p99 %.0f/%.0f/%.0f B", s->size_p50,
			s->size_p90, s->size_p99);
	for (unsigned i = 0; i < v->numeric_fields; i++) {
		const struct st_qs *q = st_sset_numeric_qs_ro(set, i);

		if (st_qs_count(q) == 0)
			continue;
		fprintf(out, "   %s p50/p90/p99 %.4g/%.4g/%.4g", field_name(v, false, i),
			st_qs_estimate(q, 0.5), st_qs_estimate(q, 0.9),
			st_qs_estimate(q, 0.99));
	}
	if (c->records)
		fputc('\n', out);
	if (n_entries) {
		fprintf(out, "    schema %u fields, fingerprint %016" PRIx64, n_entries,
			s->schema_fingerprint);
		if (base) {
			fputs(", drift vs first epoch: ", out);
			print_drift(out, base, entries, n_entries, false);
		}
		fputc('\n', out);
	}
}

struct st_printer *st_printer_create(bool json)
{
	struct st_printer *p = calloc(1, sizeof(*p));

	if (p)
		p->json = json;
	return p;
}

void st_printer_destroy(struct st_printer *p)
{
	if (!p)
		return;
	while (p->baselines) {
		struct baseline *b = p->baselines;

		p->baselines = b->next;
		free(b->entries);
		free(b);
	}
	free(p);
}

int st_printer_record(struct st_printer *a, const void *rec, size_t len,
		      const char **why)
{
	struct st_schema_entry *entries;
	struct st_profile_view v;
	const struct baseline *base;
	struct st_sset *set;
	int rc = 0;
	unsigned n;

	*why = NULL;
	if (st_profile_parse(rec, len, &v, why) < 0 ||
	    !(set = st_sset_from_profile(&v, why)))
		return -EINVAL;
	n = st_schema_size(st_sset_schema_ro(set));
	entries = calloc(n ? n : 1, sizeof(*entries));
	if (!entries) {
		rc = -ENOMEM;
		goto out_set;
	}
	n = (unsigned)st_schema_entries(st_sset_schema_ro(set), entries, n);
	base = baseline_find(a, v.meta.name);
	if (!base && n)
		baseline_add(a, v.meta.name, entries, n);
	if (a->json)
		emit_json(&v, set, v.meta.protocol, entries, n, base);
	else
		emit_text(&v, set, v.meta.protocol, entries, n, base);
	free(entries);
out_set:
	st_sset_destroy(set);
	return rc;
}
