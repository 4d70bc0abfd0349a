/*
 * Seeds for the worker fuzz target: the frames of the bundled sample
 * (samples/sample.pcap: Kafka, MQTT, NATS, JSON lines) cut into inputs of a
 * few dozen frames each, in the target's format [u16 LE length][u8 time
 * step][frame].  Usage: fuzz-seeds-worker CORPUS_DIR.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FRAMES_PER_SEED 48
#define SEEDS 40

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE], path[4096];
	struct pcap_pkthdr *h;
	const uint8_t *p;
	uint64_t last_us = 0;
	unsigned seed = 0, in_seed = 0;
	FILE *out = NULL;
	pcap_t *pc;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-worker CORPUS_DIR\n");
		return 2;
	}
	pc = pcap_open_offline(SAMPLE_PCAP, err);
	if (!pc) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	while (seed < SEEDS && pcap_next_ex(pc, &h, &p) == 1) {
		uint64_t us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		uint64_t step = last_us ? (us - last_us) / 10000u : 0;
		uint8_t hdr[3];

		last_us = us;
		if (h->caplen > 0xffff)
			continue;
		if (!out) {
			snprintf(path, sizeof(path), "%s/sample-%02u", argv[1], seed);
			out = fopen(path, "wb");
			if (!out) {
				perror(path);
				return 1;
			}
		}
		hdr[0] = (uint8_t)(h->caplen & 0xff);
		hdr[1] = (uint8_t)(h->caplen >> 8);
		hdr[2] = (uint8_t)(step > 255 ? 255 : step);
		fwrite(hdr, 1, 3, out);
		fwrite(p, 1, h->caplen, out);
		if (++in_seed == FRAMES_PER_SEED) {
			fclose(out);
			out = NULL;
			in_seed = 0;
			seed++;
		}
	}
	if (out)
		fclose(out);
	pcap_close(pc);
	return 0;
}
