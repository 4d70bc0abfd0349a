/*
 * Writes valid inputs for the `mqtt` fuzz target (the operation format of
 * fuzz_mqtt_nats.h) into the directory given as argv[1]: MQTT 3.1.1 and 5.0
 * sessions in both directions, whole, byte by byte, with a gap, without
 * the CONNECT, and with a PUBLISH larger than ST_CODEC_HOLD_MAX.
 * Deterministic: the same files on every run.
 *
 *	fuzz-seeds-mqtt <corpus dir>
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mqtt_nats_seeds.h"

static void str16(struct out *o, const char *s)
{
	put8(o, (uint8_t)(strlen(s) >> 8));
	put8(o, (uint8_t)strlen(s));
	put(o, s, strlen(s));
}

static void varint(struct out *o, uint32_t v)
{
	do {
		uint8_t d = v & 0x7f;

		v >>= 7;
		put8(o, v ? (uint8_t)(d | 0x80) : d);
	} while (v);
}

static void connect_pkt(struct out *o, uint8_t level)
{
	struct out v = { .len = 0 };

	str16(&v, "MQTT");
	put8(&v, level);
	put8(&v, 0x02);
	put8(&v, 0);
	put8(&v, 60);
	if (level == 5)
		put8(&v, 0);
	str16(&v, "seed-client");
	put8(o, 0x10);
	varint(o, (uint32_t)v.len);
	put(o, v.p, v.len);
}

static void publish(struct out *o, bool v5, unsigned qos, uint16_t id,
		    const char *topic, const uint8_t *props, size_t props_len,
		    const char *payload)
{
	size_t rl = 2 + strlen(topic) + (qos ? 2 : 0) + strlen(payload) +
		    (v5 ? 1 + props_len : 0);

	put8(o, (uint8_t)(0x30 | qos << 1));
	varint(o, (uint32_t)rl);
	str16(o, topic);
	if (qos) {
		put8(o, (uint8_t)(id >> 8));
		put8(o, (uint8_t)id);
	}
	if (v5) {
		put8(o, (uint8_t)props_len);
		put(o, props, props_len);
	}
	put(o, payload, strlen(payload));
}

static void ack(struct out *o, uint8_t type, uint16_t id)
{
	put8(o, (uint8_t)(type << 4 | (type == 6 ? 2 : 0)));
	put8(o, 2);
	put8(o, (uint8_t)(id >> 8));
	put8(o, (uint8_t)id);
}

static void session(struct out *up, struct out *down, uint8_t level)
{
	static const uint8_t props[] = { 0x01, 0x01, 0x23, 0x00, 0x02,
					 0x03, 0x00, 0x04, 'j', 's', 'o', 'n' };
	static const uint8_t alias[] = { 0x23, 0x00, 0x02 };
	static const uint8_t sub[] = { 0x82, 0x08, 0x00, 0x05, 0x00, 0x03,
				       'a', '/', '#', 0x01 };
	bool v5 = level == 5;

	connect_pkt(up, level);
	put(up, sub, sizeof(sub));
	publish(up, v5, 0, 0, "sensors/temp", props, v5 ? sizeof(props) : 0,
		"{\"id\":\"k1\",\"v\":21.5}");
	publish(up, v5, 1, 10, "sensors/temp", alias, v5 ? sizeof(alias) : 0,
		"{\"id\":\"k2\",\"v\":21.7}");
	if (v5)
		publish(up, true, 1, 11, "", alias, sizeof(alias), "{\"id\":\"k3\"}");
	publish(up, v5, 2, 12, "orders/eu", NULL, 0, "[1,2,3]");
	put8(up, 0xc0);
	put8(up, 0x00);
	put8(down, 0x20);
	put8(down, v5 ? 3 : 2);
	put8(down, 0);
	put8(down, 0);
	if (v5)
		put8(down, 0);
	put(down, "\x90\x03\x00\x05\x01", 5);
	ack(down, 4, 10);
	ack(down, 4, 11);
	ack(down, 5, 12);
	publish(down, v5, 1, 7, "a/b", NULL, 0, "{\"id\":\"k9\"}");
	put8(down, 0xd0);
	put8(down, 0x00);
}

int main(int argc, char **argv)
{
	static struct out up, down, seed;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
		return 2;
	}
	for (uint8_t level = 4; level <= 5; level++) {
		char name[64];

		up.len = down.len = 0;
		session(&up, &down, level);

		seed.len = 0;
		chunk(&seed, 0, up.p, up.len);
		chunk(&seed, 1, down.p, down.len);
		snprintf(name, sizeof(name), "session-v%u", level);
		write_seed(argv[1], name, &seed);

		seed.len = 0;
		bytewise(&seed, 0, up.p, up.len);
		bytewise(&seed, 1, down.p, down.len);
		snprintf(name, sizeof(name), "session-v%u-bytewise", level);
		write_seed(argv[1], name, &seed);

		/* a gap inside the upstream, then the whole stream again */
		seed.len = 0;
		put8(&seed, 0x00);
		put8(&seed, 30);
		put(&seed, up.p, 31);
		put8(&seed, 0x80);
		chunk(&seed, 0, up.p, up.len);
		snprintf(name, sizeof(name), "session-v%u-gap", level);
		write_seed(argv[1], name, &seed);

		/* capture started after CONNECT: skip it (its length is known) */
		seed.len = 0;
		{
			struct out tail = { .len = 0 };

			put(&tail, up.p + 2 + up.p[1], up.len - 2 - up.p[1]);
			chunk(&seed, 0, tail.p, tail.len);
			chunk(&seed, 1, down.p, down.len);
		}
		snprintf(name, sizeof(name), "session-v%u-no-connect", level);
		write_seed(argv[1], name, &seed);
	}

	/* a PUBLISH of 100,352 bytes of payload: head, filler, then another */
	up.len = 0;
	seed.len = 0;
	connect_pkt(&up, 4);
	put8(&up, 0x32);
	varint(&up, 2 + 5 + 2 + 100352);
	str16(&up, "big/1");
	put8(&up, 0);
	put8(&up, 1);
	chunk(&seed, 0, up.p, up.len);
	put8(&seed, 0x04);       /* filler on direction 0 */
	put8(&seed, '{');
	put8(&seed, 195);        /* (195 + 1) * 512 = 100,352 bytes */
	up.len = 0;
	publish(&up, false, 0, 0, "after", NULL, 0, "ok");
	chunk(&seed, 0, up.p, up.len);
	write_seed(argv[1], "large-publish", &seed);
	return 0;
}
