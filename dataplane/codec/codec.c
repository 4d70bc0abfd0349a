/*
 * The codec table: protocol numbers, names and the codec of each.
 */
#include <string.h>

#include "dataplane/codec/codec.h"

static const char *const proto_names[ST_PROTO__COUNT] = {
	[ST_PROTO_NONE] = "none",
	[ST_PROTO_KAFKA] = "kafka",
	[ST_PROTO_MQTT] = "mqtt",
	[ST_PROTO_NATS] = "nats",
	[ST_PROTO_JSONL] = "jsonl",
};

const struct st_codec *st_codec_get(enum st_proto proto)
{
	switch (proto) {
	case ST_PROTO_KAFKA:
		return &st_codec_kafka;
	case ST_PROTO_MQTT:
		return &st_codec_mqtt;
	case ST_PROTO_NATS:
		return &st_codec_nats;
	case ST_PROTO_JSONL:
		return &st_codec_jsonl;
	default:
		return NULL;
	}
}

const char *st_proto_name(enum st_proto proto)
{
	if ((unsigned)proto >= ST_PROTO__COUNT)
		return NULL;
	return proto_names[proto];
}

enum st_proto st_proto_from_name(const char *name)
{
	for (unsigned i = ST_PROTO_NONE + 1; i < ST_PROTO__COUNT; i++)
		if (strcmp(name, proto_names[i]) == 0)
			return (enum st_proto)i;
	return ST_PROTO_NONE;
}
