/* Fuzz target `nats`: the NATS codec under the driver of fuzz_mqtt_nats.h. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_mqtt_nats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_codec_run(&st_codec_nats, data, size);
}
