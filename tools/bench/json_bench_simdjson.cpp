/*
 * The JSON benchmark's peer: simdjson On-Demand (Langdale & Lemire,
 * "Parsing Gigabytes of JSON per Second", VLDB Journal 2019; Keiser &
 * Lemire, "On-Demand JSON: A Better Way to Parse Documents?", SPE 2024),
 * the Debian libsimdjson-dev build, used the way its documentation
 * recommends: one parser reused for every record, padded_string_view over
 * the caller's buffer (zero copy; the bytes after each record are readable,
 * see json_bench_peer.h), fields looked up in document order.
 *
 * Fields only: doc["ts"], doc["user"]["id"], doc["amount"].
 *
 * A second peer, simdjson's DOM parser (dom::parser::parse, which validates
 * the whole record and builds its tape), does the same work; it is the
 * closer match to our scanner, which validates every record whole.
 * With the schema: one recursive walk over every object field
 * (unescaped_key(), so that escaped names give the same path) and array
 * element, each path and type sent to st_schema_update() exactly as our
 * scanner does, the three fields picked up on the way by their path.
 */
#include <cstring>
#include <string_view>
#include <utility>

#include <simdjson.h>

extern "C" {
#include "dataplane/sketch/hash.h"
#include "dataplane/sketch/schema.h"
}
#include "tools/bench/json_bench_peer.h"

using namespace simdjson;

struct json_peer {
	ondemand::parser parser;
	dom::parser dom_parser;
};

extern "C" const char *json_peer_implementation(void)
{
#define PEER_STR2(x) #x
#define PEER_STR(x) PEER_STR2(x)
	/* the kernel compiled into this file's inline On-Demand code (the
	 * shared library's builtin_implementation() is its own, not ours) */
	return PEER_STR(SIMDJSON_BUILTIN_IMPLEMENTATION);
}

extern "C" struct json_peer *json_peer_create(void)
{
	return new (std::nothrow) json_peer();
}

extern "C" void json_peer_destroy(struct json_peer *peer)
{
	delete peer;
}

static uint64_t bits(double d)
{
	uint64_t u;

	std::memcpy(&u, &d, sizeof(u));
	return u;
}

namespace {

constexpr size_t path_max = 512;

struct walk {
	struct st_schema *schema;
	char path[path_max];
	unsigned found;
	uint64_t id_hash, number_bits;
};

bool is(const walk &w, size_t len, const char *p)
{
	return len == std::strlen(p) && std::memcmp(w.path, p, len) == 0;
}

/* The st_json_type bit of v; booleans need their value. */
error_code type_of(ondemand::value &v, uint8_t *type)
{
	ondemand::json_type t;
	error_code e = v.type().get(t);

	if (e)
		return e;
	switch (t) {
	case ondemand::json_type::object: *type = ST_JSON_OBJECT; break;
	case ondemand::json_type::array: *type = ST_JSON_ARRAY; break;
	case ondemand::json_type::string: *type = ST_JSON_STRING; break;
	case ondemand::json_type::number: *type = ST_JSON_NUMBER; break;
	case ondemand::json_type::null: *type = ST_JSON_NULL; break;
	case ondemand::json_type::boolean: {
		bool b;

		if ((e = v.get_bool().get(b)))
			return e;
		*type = b ? ST_JSON_TRUE : ST_JSON_FALSE;
		break;
	}
	}
	return SUCCESS;
}

error_code walk_value(walk &w, ondemand::value v, size_t len, unsigned depth);

/* A member or element at path[0..len) with value v. */
error_code visit(walk &w, ondemand::value v, size_t len, unsigned depth)
{
	uint8_t type;
	error_code e = type_of(v, &type);

	if (e)
		return e;
	st_schema_update(w.schema, st_hash64(w.path, len), w.path, len, type);
	if (type == ST_JSON_STRING && is(w, len, "/user/id")) {
		std::string_view s;

		if ((e = v.get_string().get(s)))
			return e;
		w.id_hash += st_hash64(s.data(), s.size());
		w.found++;
	} else if (type == ST_JSON_NUMBER && (is(w, len, "/amount") ||
					      is(w, len, "/ts"))) {
		double d;

		if ((e = v.get_double().get(d)))
			return e;
		w.number_bits += bits(d);
		w.found++;
	} else if (type == ST_JSON_OBJECT || type == ST_JSON_ARRAY) {
		return walk_value(w, v, len, depth + 1);
	}
	return SUCCESS;
}

error_code walk_object(walk &w, ondemand::object obj, size_t len,
		       unsigned depth)
{
	for (auto result : obj) {
		ondemand::field field;
		std::string_view key;
		size_t n = len;
		error_code e = std::move(result).get(field);

		if (e || (e = field.unescaped_key().get(key)))
			return e;
		if (n + 1 + 2 * key.size() > path_max || depth >= 32)
			return CAPACITY;  /* the bench's records never get here */
		w.path[n++] = '/';
		for (char c : key) {
			if (c == '~' || c == '/') {
				w.path[n++] = '~';
				w.path[n++] = c == '~' ? '0' : '1';
			} else {
				w.path[n++] = c;
			}
		}
		if ((e = visit(w, field.value(), n, depth)))
			return e;
	}
	return SUCCESS;
}

error_code walk_array(walk &w, ondemand::array arr, size_t len,
		      unsigned depth)
{
	if (len + 2 > path_max || depth >= 32)
		return CAPACITY;
	w.path[len] = '/';
	w.path[len + 1] = '*';
	for (auto el : arr) {
		ondemand::value v;
		error_code e = std::move(el).get(v);

		if (e || (e = visit(w, v, len + 2, depth)))
			return e;
	}
	return SUCCESS;
}

error_code walk_value(walk &w, ondemand::value v, size_t len, unsigned depth)
{
	ondemand::json_type t;
	error_code e = v.type().get(t);

	if (e)
		return e;
	if (t == ondemand::json_type::object) {
		ondemand::object obj;

		return (e = v.get_object().get(obj)) ? e : walk_object(w, obj, len, depth);
	}
	ondemand::array arr;

	return (e = v.get_array().get(arr)) ? e : walk_array(w, arr, len, depth);
}

error_code fields_only(ondemand::document &doc, uint64_t *id_hash,
		       uint64_t *number_bits)
{
	ondemand::object obj;
	std::string_view id;
	double ts, amount;
	error_code e;

	if ((e = doc.get_object().get(obj)) || (e = obj["ts"].get_double().get(ts)) ||
	    (e = obj["user"]["id"].get_string().get(id)) ||
	    (e = obj["amount"].get_double().get(amount)))
		return e;
	*id_hash += st_hash64(id.data(), id.size());
	*number_bits += bits(ts) + bits(amount);
	return SUCCESS;
}

} // namespace

extern "C" int json_peer_pass(struct json_peer *peer,
			      const struct json_bench_records *r,
			      struct st_schema *schema,
			      struct json_bench_sums *out)
{
	walk w;

	*out = json_bench_sums{};
	w.schema = schema;
	for (size_t i = 0; i < r->n; i++) {
		const char *rec = reinterpret_cast<const char *>(r->buf + r->off[i]);
		ondemand::document doc;
		error_code e = peer->parser
			.iterate(padded_string_view(rec, r->len[i],
						    r->len[i] + SIMDJSON_PADDING))
			.get(doc);

		if (!e && !schema) {
			e = fields_only(doc, &out->id_hash, &out->number_bits);
			out->complete += !e;
		} else if (!e) {
			ondemand::object obj;

			w.found = 0;
			w.id_hash = w.number_bits = 0;
			if (!(e = doc.get_object().get(obj)))
				e = walk_object(w, obj, 0, 0);
			if (!e && w.found == 3) {
				out->id_hash += w.id_hash;
				out->number_bits += w.number_bits;
				out->complete++;
			}
		}
		out->failed += e != SUCCESS;
	}
	return 0;
}

namespace {

error_code dom_walk(walk &w, dom::element el, size_t len, unsigned depth);

error_code dom_visit(walk &w, dom::element v, size_t len, unsigned depth)
{
	uint8_t type;

	switch (v.type()) {
	case dom::element_type::OBJECT: type = ST_JSON_OBJECT; break;
	case dom::element_type::ARRAY: type = ST_JSON_ARRAY; break;
	case dom::element_type::STRING: type = ST_JSON_STRING; break;
	case dom::element_type::INT64:
	case dom::element_type::UINT64:
	case dom::element_type::DOUBLE: type = ST_JSON_NUMBER; break;
	case dom::element_type::BOOL: {
		bool b = false;
		error_code e = v.get_bool().get(b);

		if (e)
			return e;
		type = b ? ST_JSON_TRUE : ST_JSON_FALSE;
		break;
	}
	default: type = ST_JSON_NULL; break;
	}
	st_schema_update(w.schema, st_hash64(w.path, len), w.path, len, type);
	if (type == ST_JSON_STRING && is(w, len, "/user/id")) {
		std::string_view s;
		error_code e = v.get_string().get(s);

		if (e)
			return e;
		w.id_hash += st_hash64(s.data(), s.size());
		w.found++;
	} else if (type == ST_JSON_NUMBER && (is(w, len, "/amount") ||
					      is(w, len, "/ts"))) {
		double d;
		error_code e = v.get_double().get(d);

		if (e)
			return e;
		w.number_bits += bits(d);
		w.found++;
	} else if (type == ST_JSON_OBJECT || type == ST_JSON_ARRAY) {
		return dom_walk(w, v, len, depth + 1);
	}
	return SUCCESS;
}

error_code dom_walk(walk &w, dom::element el, size_t len, unsigned depth)
{
	if (depth >= 32)
		return CAPACITY;
	if (el.type() == dom::element_type::ARRAY) {
		if (len + 2 > path_max)
			return CAPACITY;
		dom::array arr;
		error_code e = el.get_array().get(arr);

		if (e)
			return e;
		for (dom::element v : arr) {
			w.path[len] = '/';
			w.path[len + 1] = '*';
			if ((e = dom_visit(w, v, len + 2, depth)))
				return e;
		}
		return SUCCESS;
	}
	dom::object obj;
	error_code e = el.get_object().get(obj);

	if (e)
		return e;
	for (dom::key_value_pair kv : obj) {
		size_t n = len;

		if (n + 1 + 2 * kv.key.size() > path_max)
			return CAPACITY;
		w.path[n++] = '/';
		for (char c : kv.key) {
			if (c == '~' || c == '/') {
				w.path[n++] = '~';
				w.path[n++] = c == '~' ? '0' : '1';
			} else {
				w.path[n++] = c;
			}
		}
		if ((e = dom_visit(w, kv.value, n, depth)))
			return e;
	}
	return SUCCESS;
}

} // namespace

extern "C" int json_peer_dom_pass(struct json_peer *peer,
				  const struct json_bench_records *r,
				  struct st_schema *schema,
				  struct json_bench_sums *out)
{
	walk w;

	*out = json_bench_sums{};
	w.schema = schema;
	for (size_t i = 0; i < r->n; i++) {
		const uint8_t *rec = r->buf + r->off[i];
		dom::element doc;
		error_code e = peer->dom_parser.parse(rec, r->len[i], false).get(doc);

		if (!e && !schema) {
			std::string_view id;
			double ts, amount;

			if (!(e = doc["ts"].get_double().get(ts)) &&
			    !(e = doc["user"]["id"].get_string().get(id)) &&
			    !(e = doc["amount"].get_double().get(amount))) {
				out->id_hash += st_hash64(id.data(), id.size());
				out->number_bits += bits(ts) + bits(amount);
				out->complete++;
			}
		} else if (!e) {
			w.found = 0;
			w.id_hash = w.number_bits = 0;
			e = dom_walk(w, doc, 0, 0);
			if (!e && w.found == 3) {
				out->id_hash += w.id_hash;
				out->number_bits += w.number_bits;
				out->complete++;
			}
		}
		out->failed += e != SUCCESS;
	}
	return 0;
}
