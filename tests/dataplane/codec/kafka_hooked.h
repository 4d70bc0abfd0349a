/*
 * dataplane/codec/kafka.c built again with its test hooks
 * (tests/dataplane/codec/kafka_hooked.c): the same codec as
 * st_codec_kafka_hooked, whose fast paths (records, batch headers,
 * request prefixes) a test can turn off and whose uses it can count.  The
 * Kafka suite and the Kafka fuzz target run both paths on the same bytes
 * through it.
 */
#ifndef ST_TEST_KAFKA_HOOKED_H
#define ST_TEST_KAFKA_HOOKED_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/codec/codec.h"

extern const struct st_codec st_codec_kafka_hooked;
/* true: every record and batch header goes through the cursor path */
extern bool st_kafka_fast_off;
/* records emitted by the fast path so far */
extern uint64_t st_kafka_fast_taken;
/* batch headers read by the fast path so far */
extern uint64_t st_kafka_fast_batches;
/* Produce requests whose prefix the fast path read, so far */
extern uint64_t st_kafka_fast_requests;

#endif
