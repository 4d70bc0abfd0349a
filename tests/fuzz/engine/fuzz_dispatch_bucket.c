/*
 * libFuzzer target for software dispatch's frame parse (dataplane/engine.c,
 * included to reach it): quick_bucket() reads an Ethernet frame without
 * st_decode() to find the frame's bucket.
 *
 * Input: an Ethernet frame (pcap link type 1).  Invariants:
 *   - quick_bucket() reads nothing outside the frame (ASan: libFuzzer
 *     hands over an exact-size heap copy);
 *   - a bucket is below ST_ENGINE_DISPATCH_BUCKETS;
 *   - when quick_bucket() accepts a frame that st_decode() decodes, both
 *     paths give the same bucket and the same IPPROTO (else one flow could
 *     land on two cores);
 *   - dispatch_bucket() accepts every frame st_decode() decodes, with that
 *     bucket, and refuses a frame only when both refuse it;
 *   - the frame with its two endpoints swapped (when st_decode() gives
 *     them) has the same bucket.
 * Any violation aborts.
 *
 * Seeds: dispatch_bucket_seeds.c (fuzz-seeds-dispatch_bucket).
 */
#include "dataplane/engine.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                               \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, \
				__LINE__);                                        \
			abort();                                                  \
		}                                                                 \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_capture cap = { .linktype = ST_DLT_EN10MB };
	struct st_engine e = { .cap = &cap };
	struct st_frame f = { .data = data, .caplen = (uint32_t)size, .wire_len = (uint32_t)size };
	uint32_t quick = 0, full = 0;
	uint8_t quick_l4 = 0, full_l4 = 0;
	bool quick_ok, full_ok;
	struct st_pkt p;
	bool decoded;

	if (size > 65535)
		return 0;
	quick_ok = quick_bucket(data, (uint32_t)size, &quick, &quick_l4);
	full_ok = dispatch_bucket(&e, &f, &full, &full_l4);
	decoded = st_decode(data, (uint32_t)size, ST_DLT_EN10MB, 0, &p) == ST_DECODE_OK;
	CHECK(!quick_ok || quick < ST_ENGINE_DISPATCH_BUCKETS);
	CHECK(!quick_ok || quick_l4 == IPPROTO_TCP || quick_l4 == IPPROTO_UDP);
	CHECK(full_ok == (quick_ok || decoded));
	if (quick_ok) {
		CHECK(full == quick && full_l4 == quick_l4);
	}
	if (decoded) {
		uint32_t swapped = endpoints_bucket(p.daddr, p.dport, p.saddr, p.sport);

		CHECK(full == endpoints_bucket(p.saddr, p.sport, p.daddr, p.dport));
		CHECK(full_l4 == p.l4_proto);
		CHECK(swapped == full);
	}
	return 0;
}
