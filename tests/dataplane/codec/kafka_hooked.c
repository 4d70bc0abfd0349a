/* The Kafka codec with its test hooks on: see kafka_hooked.h. */
#include "tests/dataplane/codec/kafka_hooked.h"

bool st_kafka_fast_off;
uint64_t st_kafka_fast_taken;
uint64_t st_kafka_fast_batches;
uint64_t st_kafka_fast_requests;

#define ST_KAFKA_TEST_HOOKS
#include "dataplane/codec/kafka.c"
