/*
 * The libpcap capture backend: a capture file (pcap or pcapng, read with
 * nanosecond timestamps) or, as a fallback where neither DPDK nor AF_XDP
 * can be used, a live interface.  One queue; frames carry the capture's own
 * timestamps (a live interface: the kernel's receive time).
 */
#ifndef ST_CAPTURE_PCAP_H
#define ST_CAPTURE_PCAP_H

#include <stdbool.h>
#include <stddef.h>

#include "dataplane/capture/capture.h"

/*
 * Opens `source`: a file, or with live = true an interface name (snap
 * length 65535, promiscuous, a 10 ms read timeout).  NULL with errno and
 * libpcap's message in err.
 */
struct st_capture *st_capture_pcap_open(const char *source, bool live,
					char *err, size_t errlen);

/*
 * A file's frames handed out no sooner than `speed` times their own pace:
 * frame i leaves at start + (ts_i - ts_0) / speed on CLOCK_MONOTONIC, so
 * that a replay lasts capture time / speed (speed 1: real time).  0, the
 * default, is as fast as the record path goes.  Until a frame is due,
 * rx_burst returns 0 (after sleeping at most 1 ms).  Returns 0, or -EINVAL
 * (a live capture, a speed that is negative or not finite).  Call before
 * the first rx_burst.
 */
int st_capture_pcap_pace(struct st_capture *c, double speed);

#endif
