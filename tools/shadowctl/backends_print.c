/*
 * Backend Metrics records as text or JSON (backends_print.h).  Latency
 * figures are read from each entry's DDSketch (microseconds): count, exact
 * min and max, and the p50/p90/p99 estimates (within the sketch's relative
 * error ST_BACKENDS_LATENCY_ALPHA of the true values at those ranks).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "backends_print.h"
#include "dataplane/codec/codec.h"
#include "dataplane/sketch/quantile.h"
#include "jsonw.h"
#include "shadowtap/backends.h"

static void addr_text(const struct st_backends_entry *e, char *out, size_t cap)
{
	if (!inet_ntop(e->family == 4 ? AF_INET : AF_INET6, e->addr, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

static void print_json(FILE *out, const struct st_backends_entry *e, const struct st_qs *q)
{
	char addr[INET6_ADDRSTRLEN];

	addr_text(e, addr, sizeof(addr));
	fprintf(out, "{\"family\":%u,\"addr\":\"%s\",\"port\":%u,\"protocol\":\"%s\""
		",\"records\":%" PRIu64 ",\"record_bytes\":%" PRIu64
		",\"packets_to\":%" PRIu64 ",\"bytes_to\":%" PRIu64
		",\"packets_from\":%" PRIu64 ",\"bytes_from\":%" PRIu64
		",\"retransmissions_to\":%" PRIu64 ",\"retransmissions_from\":%" PRIu64
		",\"zero_windows_to\":%" PRIu64 ",\"zero_windows_from\":%" PRIu64
		",\"flows_new\":%" PRIu64 ",\"egress_records\":%" PRIu64 ",\"latency_us\":",
		e->family, addr, e->port, st_proto_name((enum st_proto)e->protocol),
		e->records, e->record_bytes, e->packets_to, e->bytes_to, e->packets_from,
		e->bytes_from, e->retransmissions_to, e->retransmissions_from,
		e->zero_windows_to, e->zero_windows_from, e->flows_new, e->egress_records);
	if (!q) {
		fputs("null}", out);
		return;
	}
	fprintf(out, "{\"count\":%" PRIu64 ",\"min\":", st_qs_count(q));
	st_jw_num(out, st_qs_min(q));
	fputs(",\"p50\":", out);
	st_jw_num(out, st_qs_estimate(q, 0.5));
	fputs(",\"p90\":", out);
	st_jw_num(out, st_qs_estimate(q, 0.9));
	fputs(",\"p99\":", out);
	st_jw_num(out, st_qs_estimate(q, 0.99));
	fputs(",\"max\":", out);
	st_jw_num(out, st_qs_max(q));
	fputs("}}", out);
}

static void print_text(FILE *out, const struct st_backends_entry *e, const struct st_qs *q)
{
	char addr[INET6_ADDRSTRLEN];

	addr_text(e, addr, sizeof(addr));
	fprintf(out, "  %s%s%s:%u %s: %" PRIu64 " records, packets %" PRIu64 " to / %"
		PRIu64 " from, retransmissions %" PRIu64 " / %" PRIu64
		", zero windows %" PRIu64 " / %" PRIu64 ", %" PRIu64 " new flows",
		e->family == 6 ? "[" : "", addr, e->family == 6 ? "]" : "", e->port,
		st_proto_name((enum st_proto)e->protocol), e->records, e->packets_to,
		e->packets_from, e->retransmissions_to, e->retransmissions_from,
		e->zero_windows_to, e->zero_windows_from, e->flows_new);
	if (q)
		fprintf(out, ", latency %" PRIu64 " samples p50 %.0f us p99 %.0f us",
			st_qs_count(q), st_qs_estimate(q, 0.5), st_qs_estimate(q, 0.99));
	fputc('\n', out);
}

int st_backends_print(FILE *out, const void *rec, size_t len, bool json,
		      const char **why)
{
	struct st_backends_view v;
	struct st_backends_entry e;
	size_t pos = 0;
	unsigned n = 0;
	int rc = st_backends_parse(rec, len, &v, why);

	if (rc)
		return rc;
	if (json)
		fprintf(out, "{\"epoch_start_ns\":%" PRIu64 ",\"epoch_ns\":%" PRIu64
			",\"cores_merged\":%u,\"cores_expected\":%u,\"overflow\":%" PRIu64
			",\"backends\":[", v.meta.epoch_start_ns, v.meta.epoch_ns,
			v.meta.cores_merged, v.meta.cores_expected, v.meta.overflow);
	else
		fprintf(out, "backends of the epoch at %" PRIu64 " ns: %u endpoints, %"
			PRIu64 " overflow%s\n", v.meta.epoch_start_ns, v.entry_count,
			v.meta.overflow, v.meta.flags & ST_BACKENDS_F_PARTIAL ? " (partial)" : "");
	while (st_backends_next(&v, &pos, &e) == 1) {
		struct st_qs *q = NULL;

		if (e.latency_len) {
			q = st_qs_deserialize(e.latency, e.latency_len, why);
			if (!q) {
				if (json)
					fputs("]}", out);
				return errno == ENOMEM ? -ENOMEM : -EINVAL;
			}
		}
		if (json) {
			if (n)
				fputc(',', out);
			print_json(out, &e, q);
		} else {
			print_text(out, &e, q);
		}
		st_qs_destroy(q);
		n++;
	}
	if (json)
		fputs("]}", out);
	return 0;
}
