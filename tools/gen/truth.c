/*
 * Ground truth of shadowtap-gen, counted from the generator's own
 * bookkeeping at the moment each record is written to the wire (never by
 * decoding the output).
 *
 * A record belongs to the tick and epoch of the capture timestamp of the
 * packets that carry it: the engine keeps all packets of one message
 * (including duplicates and reordered segments) inside one tick.  Exact
 * counts use open-addressing hash maps of key id -> count, one for the whole
 * run and one per stream for the current epoch (reset at each epoch close);
 * memory grows with the distinct keys, never with the records.
 *
 * The document it writes (one JSON object; all times ns since the Unix
 * epoch, UTC):
 *
 * {"generator":"shadowtap-gen","format":1,"seed":S,"start_ns":T0,
 *  "duration_ns":D,"tick_ns":t,"epoch_ns":E,"ticks_per_epoch":E/t,
 *  "epochs":N,"frames":F,"frame_bytes":B,
 *  "type_names":["null","false","true","number","string","object","array"],
 *  "streams":[{
 *    "name":"kafka:orders", "protocol":"kafka", "transport":"tcp",
 *    "server":"10.0.0.10", "port":9092, "connections":C,
 *    "topic"|"subject":"..." (kafka, mqtt / nats), "partitions":P (kafka),
 *    "records":R, "value_bytes":V, "messages":M, "distinct_keys":K,
 *    "top_keys":[{"key":"u17","count":c},...],          (<= 10)
 *    "partition_records":[r0,r1,...],                    (kafka)
 *    "schema_changes":[{"change":"+extra@30s","at_ns":T,"first_epoch":i|null}],
 *    "epochs":[{"index":i,"start_ns":T,"records":r,"value_bytes":v,
 *               "distinct_keys":k,"top_keys":[...],"partition_records":[...],
 *               "ticks":[records per tick, ticks_per_epoch entries],
 *               "schema":[{"path":"/amount","types":["number"]},...]}]}]}
 *
 * Top keys: count descending, then key string ascending (byte order).
 * value_bytes: the value bytes only (JSONL: without the newline).
 * messages: Produce requests (kafka), PUBLISH (mqtt), PUB/HPUB (nats), JSONL
 * datagrams (udp) or writes (tcp).
 * schema: every path seen in the epoch's records, sorted by path, types in
 * the order of type_names; first_epoch: the first epoch holding a record
 * made under the change (null if none).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gen/gen.h"

struct counts {
	uint64_t *keys;     /* key id + 1; 0 = empty */
	uint64_t *counts;
	size_t cap, used;
};

struct top {
	uint64_t key_id, count;
};

struct epoch_summary {
	uint64_t records, value_bytes, distinct;
	struct top top[ST_GEN_TOP_K];
	unsigned n_top;
	uint32_t *ticks;
	uint64_t *partitions;
	uint8_t masks[ST_GEN_MAX_PATHS];
};

struct stream_truth {
	struct st_gen_truth_stream_info info;
	char name[ST_GEN_NAME_MAX + 16], server[48];
	uint64_t records, value_bytes, messages;
	uint64_t *partitions;
	struct counts run, epoch;
	int64_t epoch_index;        /* epoch being counted */
	struct epoch_summary *epochs;
	int64_t first_epoch[ST_GEN_MAX_CHANGES + 1];
};

struct st_gen_truth {
	const struct st_gen_config *cfg;
	uint64_t n_epochs, ticks_per_epoch;
	struct stream_truth streams[ST_GEN_MAX_STREAMS];
	unsigned n_streams;
};

static size_t slot_of(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static int counts_grow(struct counts *c)
{
	size_t cap = c->cap ? 2 * c->cap : 1024;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint64_t *counts = calloc(cap, sizeof(*counts));

	if (!keys || !counts) {
		free(keys);
		free(counts);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->cap; i++) {
		size_t j;

		if (!c->keys[i])
			continue;
		for (j = slot_of(c->keys[i], cap); keys[j]; j = (j + 1) & (cap - 1))
			;
		keys[j] = c->keys[i];
		counts[j] = c->counts[i];
	}
	free(c->keys);
	free(c->counts);
	c->keys = keys;
	c->counts = counts;
	c->cap = cap;
	return 0;
}

static int counts_add(struct counts *c, uint64_t key_id)
{
	uint64_t key = key_id + 1;
	size_t i;

	if (2 * (c->used + 1) > c->cap && counts_grow(c))
		return -ENOMEM;
	for (i = slot_of(key, c->cap); c->keys[i]; i = (i + 1) & (c->cap - 1)) {
		if (c->keys[i] == key) {
			c->counts[i]++;
			return 0;
		}
	}
	c->keys[i] = key;
	c->counts[i] = 1;
	c->used++;
	return 0;
}

static void counts_clear(struct counts *c)
{
	if (c->cap) {
		memset(c->keys, 0, c->cap * sizeof(*c->keys));
		memset(c->counts, 0, c->cap * sizeof(*c->counts));
	}
	c->used = 0;
}

static void counts_free(struct counts *c)
{
	free(c->keys);
	free(c->counts);
}

size_t st_gen_key_format(uint64_t key_id, char *out)
{
	return (size_t)sprintf(out, "u%llu", (unsigned long long)key_id);
}

/* a before b in the top list: higher count, then smaller key string. */
static bool ranks_before(const struct top *a, const struct top *b)
{
	char ka[24], kb[24];

	if (a->count != b->count)
		return a->count > b->count;
	st_gen_key_format(a->key_id, ka);
	st_gen_key_format(b->key_id, kb);
	return strcmp(ka, kb) < 0;
}

static unsigned top_keys(const struct counts *c, struct top *top)
{
	unsigned n = 0;

	for (size_t i = 0; i < c->cap; i++) {
		struct top t = { c->keys[i] - 1, c->counts[i] };
		unsigned j;

		if (!c->keys[i])
			continue;
		if (n == ST_GEN_TOP_K && !ranks_before(&t, &top[n - 1]))
			continue;
		j = n < ST_GEN_TOP_K ? n++ : n - 1;
		while (j > 0 && ranks_before(&t, &top[j - 1])) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = t;
	}
	return n;
}

struct st_gen_truth *st_gen_truth_create(const struct st_gen_config *cfg)
{
	struct st_gen_truth *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cfg = cfg;
	t->n_epochs = (uint64_t)((cfg->duration_ns + cfg->epoch_ns - 1) / cfg->epoch_ns);
	t->ticks_per_epoch = (uint64_t)(cfg->epoch_ns / cfg->tick_ns);
	return t;
}

static void stream_free(struct stream_truth *s, uint64_t n_epochs)
{
	if (s->epochs) {
		for (uint64_t e = 0; e < n_epochs; e++) {
			free(s->epochs[e].ticks);
			free(s->epochs[e].partitions);
		}
	}
	free(s->epochs);
	free(s->partitions);
	counts_free(&s->run);
	counts_free(&s->epoch);
}

void st_gen_truth_destroy(struct st_gen_truth *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n_streams; i++)
		stream_free(&t->streams[i], t->n_epochs);
	free(t);
}

int st_gen_truth_add_stream(struct st_gen_truth *t, const struct st_gen_truth_stream_info *info)
{
	struct stream_truth *s = &t->streams[t->n_streams];
	unsigned parts = info->partitions ? info->partitions : 1;

	memset(s, 0, sizeof(*s));
	s->info = *info;
	snprintf(s->name, sizeof(s->name), "%s", info->name);
	snprintf(s->server, sizeof(s->server), "%s", info->server);
	s->info.name = s->name;
	s->info.server = s->server;
	s->partitions = calloc(parts, sizeof(*s->partitions));
	s->epochs = calloc(t->n_epochs, sizeof(*s->epochs));
	if (!s->partitions || !s->epochs)
		goto out_free;
	for (uint64_t e = 0; e < t->n_epochs; e++) {
		s->epochs[e].ticks = calloc(t->ticks_per_epoch, sizeof(uint32_t));
		s->epochs[e].partitions = calloc(parts, sizeof(uint64_t));
		if (!s->epochs[e].ticks || !s->epochs[e].partitions)
			goto out_free;
	}
	for (unsigned v = 0; v <= ST_GEN_MAX_CHANGES; v++)
		s->first_epoch[v] = -1;
	t->n_streams++;
	return 0;
out_free:
	stream_free(s, t->n_epochs);
	memset(s, 0, sizeof(*s));
	return -ENOMEM;
}

static void close_epoch(struct stream_truth *s)
{
	struct epoch_summary *e = &s->epochs[s->epoch_index];

	e->distinct = s->epoch.used;
	e->n_top = top_keys(&s->epoch, e->top);
	counts_clear(&s->epoch);
}

int st_gen_truth_record(struct st_gen_truth *t, unsigned stream, int64_t ts_ns,
			uint64_t key_id, size_t value_bytes, unsigned partition,
			unsigned version, uint32_t bool_bits)
{
	const struct st_gen_config *cfg = t->cfg;
	struct stream_truth *s = &t->streams[stream];
	int64_t offset = ts_ns - cfg->start_ns;
	int64_t epoch = offset / cfg->epoch_ns;
	struct epoch_summary *e;

	if (offset < 0 || (uint64_t)epoch >= t->n_epochs)
		return -ERANGE;
	if (epoch < s->epoch_index)
		return -ERANGE;
	while (s->epoch_index < epoch) {
		close_epoch(s);
		s->epoch_index++;
	}
	e = &s->epochs[epoch];
	e->records++;
	e->value_bytes += value_bytes;
	e->ticks[(offset - epoch * cfg->epoch_ns) / cfg->tick_ns]++;
	e->partitions[partition]++;
	st_gen_schema_account(s->info.schema, version, bool_bits, e->masks);
	for (unsigned v = 0; v <= version; v++)
		if (s->first_epoch[v] < 0)
			s->first_epoch[v] = epoch;
	s->records++;
	s->value_bytes += value_bytes;
	s->partitions[partition]++;
	if (counts_add(&s->run, key_id) || counts_add(&s->epoch, key_id))
		return -ENOMEM;
	return 0;
}

void st_gen_truth_message(struct st_gen_truth *t, unsigned stream)
{
	t->streams[stream].messages++;
}

/* JSON writing */

static void put_tops(FILE *out, const struct top *top, unsigned n)
{
	char key[24];

	fputc('[', out);
	for (unsigned i = 0; i < n; i++) {
		st_gen_key_format(top[i].key_id, key);
		fprintf(out, "%s{\"key\":\"%s\",\"count\":%llu}", i ? "," : "", key,
			(unsigned long long)top[i].count);
	}
	fputc(']', out);
}

static void put_u64s(FILE *out, const uint64_t *v, size_t n)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
	fputc(']', out);
}

/* Strings we write are names the spec parser accepted: escape the JSON
 * specials anyway. */
static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static int cmp_path(const void *a, const void *b, void *schema)
{
	return strcmp(st_gen_schema_path(schema, *(const unsigned *)a),
		      st_gen_schema_path(schema, *(const unsigned *)b));
}

static void put_schema(FILE *out, const struct st_gen_schema *schema, const uint8_t *masks)
{
	static const char *const names[] = { "null", "false", "true", "number", "string", "object", "array" };
	unsigned order[ST_GEN_MAX_PATHS], n = st_gen_schema_n_paths(schema), m = 0;

	for (unsigned i = 0; i < n; i++)
		if (masks[i])
			order[m++] = i;
	qsort_r(order, m, sizeof(order[0]), cmp_path, (void *)schema);
	fputc('[', out);
	for (unsigned i = 0; i < m; i++) {
		bool first = true;

		fprintf(out, "%s{\"path\":", i ? "," : "");
		put_string(out, st_gen_schema_path(schema, order[i]));
		fputs(",\"types\":[", out);
		for (unsigned b = 0; b < 7; b++) {
			if (masks[order[i]] & (1u << b)) {
				fprintf(out, "%s\"%s\"", first ? "" : ",", names[b]);
				first = false;
			}
		}
		fputs("]}", out);
	}
	fputc(']', out);
}

static int cmp_change_time(const void *a, const void *b)
{
	const struct st_gen_change *x = a, *y = b;

	return (x->at_ns > y->at_ns) - (x->at_ns < y->at_ns);
}

static void put_stream(struct st_gen_truth *t, struct stream_truth *s, FILE *out)
{
	const struct st_gen_config *cfg = t->cfg;
	const struct st_gen_stream_spec *spec = s->info.spec;
	struct st_gen_change changes[ST_GEN_MAX_CHANGES];
	unsigned parts = s->info.partitions ? s->info.partitions : 1;
	bool kafka = spec->proto == ST_GEN_KAFKA;
	struct top top[ST_GEN_TOP_K];
	unsigned n_top = top_keys(&s->run, top);

	fputs("{\"name\":", out);
	put_string(out, s->name);
	fprintf(out, ",\"protocol\":\"%s\",\"transport\":\"%s\",\"server\":\"%s\",\"port\":%u,"
		"\"connections\":%u", s->info.protocol, s->info.udp ? "udp" : "tcp", s->server,
		s->info.port, s->info.connections);
	if (spec->proto != ST_GEN_JSONL) {
		fputs(spec->proto == ST_GEN_NATS ? ",\"subject\":" : ",\"topic\":", out);
		put_string(out, spec->name);
	}
	if (kafka)
		fprintf(out, ",\"partitions\":%u", parts);
	fprintf(out, ",\"records\":%llu,\"value_bytes\":%llu,\"messages\":%llu,\"distinct_keys\":%llu,"
		"\"top_keys\":", (unsigned long long)s->records, (unsigned long long)s->value_bytes,
		(unsigned long long)s->messages, (unsigned long long)s->run.used);
	put_tops(out, top, n_top);
	if (kafka) {
		fputs(",\"partition_records\":", out);
		put_u64s(out, s->partitions, parts);
	}
	memcpy(changes, spec->changes, spec->n_changes * sizeof(changes[0]));
	qsort(changes, spec->n_changes, sizeof(changes[0]), cmp_change_time);
	fputs(",\"schema_changes\":[", out);
	for (unsigned i = 0; i < spec->n_changes; i++) {
		fprintf(out, "%s{\"change\":", i ? "," : "");
		put_string(out, changes[i].text);
		fprintf(out, ",\"at_ns\":%lld,\"first_epoch\":", (long long)(cfg->start_ns + changes[i].at_ns));
		if (s->first_epoch[i + 1] >= 0)
			fprintf(out, "%lld}", (long long)s->first_epoch[i + 1]);
		else
			fputs("null}", out);
	}
	fputs("],\"epochs\":[", out);
	for (uint64_t i = 0; i < t->n_epochs; i++) {
		struct epoch_summary *e = &s->epochs[i];

		fprintf(out, "%s\n{\"index\":%llu,\"start_ns\":%lld,\"records\":%llu,\"value_bytes\":%llu,"
			"\"distinct_keys\":%llu,\"top_keys\":", i ? "," : "", (unsigned long long)i,
			(long long)(cfg->start_ns + (int64_t)i * cfg->epoch_ns),
			(unsigned long long)e->records, (unsigned long long)e->value_bytes,
			(unsigned long long)e->distinct);
		put_tops(out, e->top, e->n_top);
		if (kafka) {
			fputs(",\"partition_records\":", out);
			put_u64s(out, e->partitions, parts);
		}
		fputs(",\"ticks\":[", out);
		for (uint64_t k = 0; k < t->ticks_per_epoch; k++)
			fprintf(out, "%s%u", k ? "," : "", e->ticks[k]);
		fputs("],\"schema\":", out);
		put_schema(out, s->info.schema, e->masks);
		fputc('}', out);
	}
	fputs("]}", out);
}

int st_gen_truth_write(struct st_gen_truth *t, FILE *out, uint64_t frames, uint64_t bytes)
{
	const struct st_gen_config *cfg = t->cfg;

	for (unsigned i = 0; i < t->n_streams; i++) {
		struct stream_truth *s = &t->streams[i];

		while ((uint64_t)s->epoch_index < t->n_epochs) {
			close_epoch(s);
			s->epoch_index++;
		}
	}
	fprintf(out, "{\"generator\":\"shadowtap-gen\",\"format\":1,\"seed\":%llu,\"start_ns\":%lld,"
		"\"duration_ns\":%lld,\"tick_ns\":%lld,\"epoch_ns\":%lld,\"ticks_per_epoch\":%llu,"
		"\"epochs\":%llu,\"frames\":%llu,\"frame_bytes\":%llu,"
		"\"type_names\":[\"null\",\"false\",\"true\",\"number\",\"string\",\"object\",\"array\"],"
		"\"streams\":[",
		(unsigned long long)cfg->seed, (long long)cfg->start_ns, (long long)cfg->duration_ns,
		(long long)cfg->tick_ns, (long long)cfg->epoch_ns,
		(unsigned long long)t->ticks_per_epoch, (unsigned long long)t->n_epochs,
		(unsigned long long)frames, (unsigned long long)bytes);
	for (unsigned i = 0; i < t->n_streams; i++) {
		fputs(i ? ",\n" : "\n", out);
		put_stream(t, &t->streams[i], out);
	}
	fputs("]}\n", out);
	return ferror(out) ? -EIO : 0;
}
