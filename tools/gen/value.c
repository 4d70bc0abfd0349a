/*
 * Record values of shadowtap-gen: JSON objects of a realistic shape, and the
 * schema versions that --stream schema=... changes produce.
 *
 * Version 0 (every stream):
 *
 *	{"user":{"id":"u123","tier":"gold"},"amount":12.50,"currency":"EUR",
 *	 "ts":1767225600123,"vip":false,"tags":["new","mobile"],"note":"..."}
 *
 * 120-300 bytes; "note" sometimes carries escapes (\" \\ \n \t \u00e9).  The
 * key is always /user/id.  Each change (sorted by time) makes the next
 * version from the previous one: +FIELD[:TYPE] appends a field, -FIELD drops
 * one, FIELD:TYPE renders it with another type.  Generic renderings by type:
 * null; bool false/true; number; string; object {"a":N,"b":"s"}; array of
 * 1-3 numbers.
 *
 * Schema paths are JSON pointers (RFC 6901) with "*" standing for every
 * array element; the root object itself is not listed.  Type bits: see
 * ST_GEN_TB_* in gen.h (bool values split into false and true).
 */
#include <stdlib.h>
#include <string.h>

#include "tools/gen/gen.h"

enum render {
	R_GENERIC, R_USER, R_AMOUNT, R_CURRENCY, R_TS, R_VIP, R_TAGS, R_NOTE,
};

struct field {
	char name[32];
	enum st_gen_type type;
	enum render render;
};

/* One path of a version: its id and fixed type bit, or a bool's index. */
struct account {
	uint8_t path_id;
	uint8_t type_bit;   /* 0 for a bool field: bool_index says which bit */
	uint8_t bool_index;
};

struct version {
	struct field fields[ST_GEN_MAX_FIELDS];
	unsigned n_fields;
	struct account acc[3 * ST_GEN_MAX_FIELDS];
	unsigned n_acc;
};

struct st_gen_schema {
	struct version versions[ST_GEN_MAX_CHANGES + 1];
	int64_t change_at_ns[ST_GEN_MAX_CHANGES];
	unsigned n_changes;
	char paths[ST_GEN_MAX_PATHS][40];
	unsigned n_paths;
};

static const struct field base_fields[] = {
	{ "user", ST_GEN_T_OBJECT, R_USER },
	{ "amount", ST_GEN_T_NUMBER, R_AMOUNT },
	{ "currency", ST_GEN_T_STRING, R_CURRENCY },
	{ "ts", ST_GEN_T_NUMBER, R_TS },
	{ "vip", ST_GEN_T_BOOL, R_VIP },
	{ "tags", ST_GEN_T_ARRAY, R_TAGS },
	{ "note", ST_GEN_T_STRING, R_NOTE },
};

static unsigned intern(struct st_gen_schema *s, const char *path)
{
	for (unsigned i = 0; i < s->n_paths; i++)
		if (!strcmp(s->paths[i], path))
			return i;
	{
		size_t len = strnlen(path, sizeof(s->paths[0]) - 1);

		memcpy(s->paths[s->n_paths], path, len);
		s->paths[s->n_paths][len] = '\0';
	}
	return s->n_paths++;
}

static uint8_t type_bit(enum st_gen_type t)
{
	static const uint8_t bits[] = {
		[ST_GEN_T_NULL] = ST_GEN_TB_NULL, [ST_GEN_T_BOOL] = 0,
		[ST_GEN_T_NUMBER] = ST_GEN_TB_NUMBER, [ST_GEN_T_STRING] = ST_GEN_TB_STRING,
		[ST_GEN_T_OBJECT] = ST_GEN_TB_OBJECT, [ST_GEN_T_ARRAY] = ST_GEN_TB_ARRAY,
	};
	return bits[t];
}

static void add_account(struct st_gen_schema *s, struct version *v, const char *path,
			uint8_t bit, unsigned bool_index)
{
	struct account *a = &v->acc[v->n_acc++];

	a->path_id = (uint8_t)intern(s, path);
	a->type_bit = bit;
	a->bool_index = (uint8_t)bool_index;
}

/* The path list of a version, in field order. */
static void build_accounts(struct st_gen_schema *s, struct version *v)
{
	unsigned n_bools = 0;
	char path[40], sub[48];

	v->n_acc = 0;
	for (unsigned i = 0; i < v->n_fields; i++) {
		const struct field *f = &v->fields[i];

		snprintf(path, sizeof(path), "/%s", f->name);
		add_account(s, v, path, type_bit(f->type), n_bools);
		if (f->type == ST_GEN_T_BOOL)
			n_bools++;
		if (f->render == R_USER) {
			snprintf(sub, sizeof(sub), "%s/id", path);
			add_account(s, v, sub, ST_GEN_TB_STRING, 0);
			snprintf(sub, sizeof(sub), "%s/tier", path);
			add_account(s, v, sub, ST_GEN_TB_STRING, 0);
		} else if (f->type == ST_GEN_T_OBJECT) {
			snprintf(sub, sizeof(sub), "%s/a", path);
			add_account(s, v, sub, ST_GEN_TB_NUMBER, 0);
			snprintf(sub, sizeof(sub), "%s/b", path);
			add_account(s, v, sub, ST_GEN_TB_STRING, 0);
		} else if (f->type == ST_GEN_T_ARRAY) {
			snprintf(sub, sizeof(sub), "%s/*", path);
			add_account(s, v, sub, f->render == R_TAGS ? ST_GEN_TB_STRING : ST_GEN_TB_NUMBER, 0);
		}
	}
}

static int find_field(const struct version *v, const char *name)
{
	for (unsigned i = 0; i < v->n_fields; i++)
		if (!strcmp(v->fields[i].name, name))
			return (int)i;
	return -1;
}

/* Applies one change to a copy of the previous version; unknown fields are
 * added by a retype and ignored by a removal (the change is still listed). */
static void apply_change(struct version *v, const struct st_gen_change *c)
{
	int i = find_field(v, c->field);

	if (c->op == ST_GEN_REMOVE) {
		if (i < 0)
			return;
		memmove(&v->fields[i], &v->fields[i + 1], (v->n_fields - (unsigned)i - 1) * sizeof(v->fields[0]));
		v->n_fields--;
		return;
	}
	if (i < 0) {
		if (v->n_fields == ST_GEN_MAX_FIELDS)
			return;
		i = (int)v->n_fields++;
		snprintf(v->fields[i].name, sizeof(v->fields[i].name), "%s", c->field);
	}
	v->fields[i].type = c->type;
	v->fields[i].render = R_GENERIC;
}

static int cmp_change(const void *a, const void *b)
{
	const struct st_gen_change *x = a, *y = b;

	return (x->at_ns > y->at_ns) - (x->at_ns < y->at_ns);
}

struct st_gen_schema *st_gen_schema_create(const struct st_gen_stream_spec *spec)
{
	struct st_gen_schema *s = calloc(1, sizeof(*s));
	struct st_gen_change sorted[ST_GEN_MAX_CHANGES];

	if (!s)
		return NULL;
	memcpy(s->versions[0].fields, base_fields, sizeof(base_fields));
	s->versions[0].n_fields = sizeof(base_fields) / sizeof(base_fields[0]);
	build_accounts(s, &s->versions[0]);
	memcpy(sorted, spec->changes, spec->n_changes * sizeof(sorted[0]));
	qsort(sorted, spec->n_changes, sizeof(sorted[0]), cmp_change);
	for (unsigned i = 0; i < spec->n_changes; i++) {
		s->versions[i + 1] = s->versions[i];
		apply_change(&s->versions[i + 1], &sorted[i]);
		build_accounts(s, &s->versions[i + 1]);
		s->change_at_ns[i] = sorted[i].at_ns;
	}
	s->n_changes = spec->n_changes;
	return s;
}

void st_gen_schema_destroy(struct st_gen_schema *schema)
{
	free(schema);
}

unsigned st_gen_schema_version_at(const struct st_gen_schema *s, int64_t offset_ns)
{
	unsigned v = 0;

	while (v < s->n_changes && s->change_at_ns[v] <= offset_ns)
		v++;
	return v;
}

unsigned st_gen_schema_n_paths(const struct st_gen_schema *s)
{
	return s->n_paths;
}

const char *st_gen_schema_path(const struct st_gen_schema *s, unsigned path_id)
{
	return s->paths[path_id];
}

void st_gen_schema_account(const struct st_gen_schema *s, unsigned version,
			   uint32_t bool_bits, uint8_t *masks)
{
	const struct version *v = &s->versions[version];

	for (unsigned i = 0; i < v->n_acc; i++) {
		const struct account *a = &v->acc[i];
		uint8_t bit = a->type_bit;

		if (!bit)
			bit = (bool_bits >> a->bool_index) & 1 ? ST_GEN_TB_TRUE : ST_GEN_TB_FALSE;
		masks[a->path_id] |= bit;
	}
}

/* Rendering: a cursor that only appends (callers stay below ST_GEN_VALUE_MAX). */

static char *put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static uint64_t below(struct st_rng *rng, uint64_t n)
{
	return (uint64_t)(st_rng_uniform(rng) * (double)n);
}

static const char *const tiers[] = { "free", "silver", "gold", "platinum" };
static const char *const currencies[] = { "EUR", "USD", "GBP", "JPY", "CHF" };
static const char *const tag_words[] = {
	"new", "mobile", "web", "promo", "returning", "express", "gift", "bulk",
};
/* JSON string bodies, escapes already written as JSON escapes. */
static const char *const note_parts[] = {
	"leave at the front desk",
	"call before delivery",
	"fragile: handle with care",
	"gift wrap \\\"birthday\\\"",
	"path C:\\\\orders\\\\inbox",
	"line one\\nline two",
	"caf\\u00e9 au lait",
	"col1\\tcol2",
	"ring twice, then wait",
	"second floor, door on the left",
	"no substitutions please",
};

static char *render_note(char *p, struct st_rng *rng)
{
	unsigned parts = (unsigned)below(rng, 6);

	*p++ = '"';
	for (unsigned i = 0; i < parts; i++) {
		uint64_t k = below(rng, sizeof(note_parts) / sizeof(note_parts[0]));

		/* Escaped parts are the minority: 4 of 11, and then half the time. */
		if (k >= 3 && k <= 7 && below(rng, 2))
			k = 0;
		if (i)
			p = put(p, "; ");
		p = put(p, note_parts[k]);
	}
	*p++ = '"';
	return p;
}

static char *render_generic(char *p, enum st_gen_type type, struct st_rng *rng, unsigned *n_bools,
			    uint32_t *bool_bits)
{
	uint64_t n;

	switch (type) {
	case ST_GEN_T_NULL:
		return put(p, "null");
	case ST_GEN_T_BOOL:
		if (below(rng, 2)) {
			*bool_bits |= 1u << *n_bools;
			p = put(p, "true");
		} else {
			p = put(p, "false");
		}
		(*n_bools)++;
		return p;
	case ST_GEN_T_NUMBER:
		return put_u64(p, below(rng, 100000));
	case ST_GEN_T_STRING:
		p = put(p, "\"v");
		p = put_u64(p, below(rng, 1000));
		return put(p, "\"");
	case ST_GEN_T_OBJECT:
		p = put(p, "{\"a\":");
		p = put_u64(p, below(rng, 1000));
		p = put(p, ",\"b\":\"");
		p = put(p, tag_words[below(rng, 8)]);
		return put(p, "\"}");
	case ST_GEN_T_ARRAY:
	default:
		n = 1 + below(rng, 3);
		*p++ = '[';
		for (uint64_t i = 0; i < n; i++) {
			if (i)
				*p++ = ',';
			p = put_u64(p, below(rng, 100));
		}
		return put(p, "]");
	}
}

size_t st_gen_value_render(const struct st_gen_schema *s, unsigned version,
			   const char *key, size_t key_len, int64_t created_ns,
			   uint64_t record_no, struct st_rng *rng, char *out, uint32_t *bool_bits)
{
	const struct version *v = &s->versions[version];
	unsigned n_bools = 0;
	uint64_t cents, n;
	char *p = out;

	(void)record_no;
	*bool_bits = 0;
	*p++ = '{';
	for (unsigned i = 0; i < v->n_fields; i++) {
		const struct field *f = &v->fields[i];

		if (i)
			*p++ = ',';
		*p++ = '"';
		p = put(p, f->name);
		p = put(p, "\":");
		switch (f->render) {
		case R_USER:
			p = put(p, "{\"id\":\"");
			memcpy(p, key, key_len);
			p += key_len;
			p = put(p, "\",\"tier\":\"");
			p = put(p, tiers[below(rng, 4)]);
			p = put(p, "\"}");
			break;
		case R_AMOUNT:
			cents = below(rng, 50000);
			p = put_u64(p, cents / 100);
			*p++ = '.';
			*p++ = (char)('0' + cents / 10 % 10);
			*p++ = (char)('0' + cents % 10);
			break;
		case R_CURRENCY:
			*p++ = '"';
			p = put(p, currencies[below(rng, 5)]);
			*p++ = '"';
			break;
		case R_TS:
			p = put_u64(p, (uint64_t)(created_ns / ST_GEN_NS_PER_MS));
			break;
		case R_TAGS:
			n = 1 + below(rng, 3);
			*p++ = '[';
			for (uint64_t t = 0; t < n; t++) {
				if (t)
					*p++ = ',';
				*p++ = '"';
				p = put(p, tag_words[below(rng, 8)]);
				*p++ = '"';
			}
			*p++ = ']';
			break;
		case R_NOTE:
			p = render_note(p, rng);
			break;
		case R_VIP:
		case R_GENERIC:
		default:
			p = render_generic(p, f->type, rng, &n_bools, bool_bits);
			break;
		}
	}
	*p++ = '}';
	return (size_t)(p - out);
}
