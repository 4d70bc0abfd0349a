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

#endif
