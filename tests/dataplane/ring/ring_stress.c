/*
 * Stress test of the shared-memory ring (include/shadowtap/ring.h) across
 * processes, with crashes: the acceptance test.
 *
 * The driver forks a producer and a consumer (separate processes, the real
 * shm object between them), SIGKILLs the consumer twice (at 10% of the
 * records delivered, wherever it is, and at 40%, while it holds a record it
 * has marked received but not released) and the producer twice (at 40% and
 * 80% of the sequence numbers tried), restarts each, and at the end
 * checks every sequence number in [0, N):
 *   - no corrupt record is ever accepted: each payload carries its sequence
 *     number, a length that is a function of it, and a checksum the stress
 *     program computes itself (not the ring's XXH3); the consumer verifies
 *     all three and the order (strictly increasing, see re-deliveries);
 *   - received + dropped_full == N exactly, with dropped_full read from the
 *     ring's own shm counters, and the dropped set equal to the unreceived
 *     set: no sequence number is both received and marked dropped;
 *   - re-deliveries only after a consumer kill, at most one per kill, and
 *     at least the held record's: the consumer marks a record received
 *     after peek and before release, and handles one record at a time, so
 *     a kill leaves at most one record marked but not released (the
 *     consumer index in shm still points at it), which the next consumer
 *     gets first;
 *   - dropped_full > 0: the consumer pauses now and then, so the producer
 *     meets a full ring and the exact count means something.
 *
 * The producer resumes after a kill at committed + dropped_full +
 * dropped_oversize from the ring's shm counters.  Every attempt marks its
 * sequence number "pending" in a driver-owned shared array before reserve,
 * then "dropped" or "not dropped" after: a kill inside reserve leaves
 * "pending", and the ring's counters then say whether the attempt was
 * counted as a drop (the successor resumes after it) or not (the successor
 * retries the same number and overwrites the mark).  So a pending mark at
 * the end means: dropped if never received, committed otherwise.
 *
 *	ring-stress [records]     default 10^7
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shadowtap/ring.h"

#define MIN_LEN 24u  /* seq, checksum, 8 bytes of body */
#define MAX_LEN 512u
#define CAPACITY_BYTES (256u << 10)
#define PAUSE_EVERY 131072u      /* records the consumer takes between pauses */
#define PAUSE_NS 3000000u

enum { MARK_SENT = 0, MARK_DROPPED = 1, MARK_PENDING = 2 };

/* Driver-owned memory shared with the children (MAP_SHARED|MAP_ANONYMOUS). */
struct shared {
	uint64_t records;
	uint64_t produced;       /* next sequence number the producer tries */
	uint64_t delivered;      /* records the consumers verified */
	uint64_t last_seq_plus1; /* last delivered seq + 1; 0: none yet */
	uint64_t bad_payload, bad_order, ring_errors;
	uint64_t hold_at;        /* delivery count at which a consumer holds */
	uint32_t holding;        /* it marked that record and sleeps unreleased */
	uint32_t producer_done;
	uint8_t *received;       /* [records]: deliveries per seq, saturating */
	uint8_t *mark;           /* [records]: MARK_* */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	nanosleep(&ts, NULL);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	return x ^ (x >> 33);
}

static uint32_t record_len(uint64_t seq)
{
	return MIN_LEN + (uint32_t)(mix64(seq) % (MAX_LEN - MIN_LEN + 1));
}

/* The stress program's own checksum: seq, length, and every body byte. */
static uint64_t payload_check(const uint8_t *p, uint32_t len)
{
	uint64_t h = mix64(len), w;
	uint32_t i;

	memcpy(&w, p, 8);
	h = mix64(h ^ w);
	for (i = 16; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return mix64(h);
}

static void fill(uint8_t *p, uint64_t seq, uint32_t len)
{
	static uint8_t body[MAX_LEN + 64];
	uint64_t check;

	if (!body[0])
		for (size_t i = 0; i < sizeof(body); i++)
			body[i] = (uint8_t)(mix64(i) | 1);
	memcpy(p, &seq, 8);
	memcpy(p + 16, body + seq % 64, len - 16);
	check = payload_check(p, len);
	memcpy(p + 8, &check, 8);
}

static void mark(struct shared *sh, uint64_t seq, uint8_t m)
{
	__atomic_store_n(&sh->mark[seq], m, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static struct st_ring *open_retrying(const char *instance, bool producer)
{
	struct st_ring_config cfg = { CAPACITY_BYTES, MAX_LEN };

	for (int tries = 0; tries < 5000; tries++) {
		struct st_ring *r = producer ? st_ring_producer_open(instance, &cfg)
					     : st_ring_consumer_open(instance);

		if (r)
			return r;
		if (errno != EBUSY && errno != ENOENT && errno != EAGAIN)
			break;
		sleep_ns(1000000);
	}
	perror(producer ? "producer open" : "consumer open");
	_exit(2);
}

static void producer_main(const char *instance, struct shared *sh)
{
	struct st_ring *p = open_retrying(instance, true);
	struct st_ring_stats s;
	uint64_t seq;

	st_ring_stats(p, &s);
	seq = s.committed + s.dropped_full + s.dropped_oversize;
	while (seq < sh->records) {
		uint32_t len = record_len(seq);
		uint8_t *w;

		mark(sh, seq, MARK_PENDING);
		w = st_ring_reserve(p, len);
		if (!w) {
			mark(sh, seq, MARK_DROPPED);
			sleep_ns(20000); /* a paced source: drops while the consumer pauses */
		} else {
			mark(sh, seq, MARK_SENT);
			fill(w, seq, len);
			st_ring_commit(p, len);
		}
		seq++;
		__atomic_store_n(&sh->produced, seq, __ATOMIC_RELAXED);
		if ((seq & 0xffff) == 0)
			st_ring_heartbeat(p, now_ns());
	}
	st_ring_close(p);
	_exit(0);
}

/* One delivered record: the payload's own checks, then the order. */
static void consume_one(struct shared *sh, const uint8_t *rec, uint32_t len, bool *first)
{
	uint64_t seq, check, last;

	if (len < MIN_LEN) {
		sh->bad_payload++;
		return;
	}
	memcpy(&seq, rec, 8);
	memcpy(&check, rec + 8, 8);
	if (seq >= sh->records || len != record_len(seq) || check != payload_check(rec, len)) {
		sh->bad_payload++;
		return;
	}
	/* strictly increasing; the first record after a restart may be the
	 * last one the killed consumer marked (a re-delivery) */
	last = sh->last_seq_plus1;
	if (last && seq + 1 <= last && !(*first && seq + 1 == last))
		sh->bad_order++;
	*first = false;
	if (sh->received[seq] < 255)
		sh->received[seq]++;
	__atomic_store_n(&sh->last_seq_plus1, seq + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->delivered, sh->delivered + 1, __ATOMIC_RELAXED);
	if (sh->delivered == sh->hold_at) {
		/* marked, not released: wait here for the driver's SIGKILL */
		__atomic_store_n(&sh->holding, 1, __ATOMIC_RELEASE);
		for (;;)
			sleep_ns(1000000);
	}
}

static void consumer_main(const char *instance, struct shared *sh)
{
	struct st_ring *c = open_retrying(instance, false);
	uint32_t empty_polls = 0, since_pause = 0;
	bool first = true;

	for (;;) {
		const void *rec;
		uint32_t len;
		int rc = st_ring_peek(c, &rec, &len);

		if (rc == 0) {
			consume_one(sh, rec, len, &first);
			st_ring_release(c);
			empty_polls = 0;
			if (++since_pause == PAUSE_EVERY) {
				since_pause = 0;
				sleep_ns(PAUSE_NS);
			}
			continue;
		}
		if (rc != -EAGAIN) {
			sh->ring_errors++;
			continue;
		}
		/* empty: done once the producer has finished and exited */
		if (__atomic_load_n(&sh->producer_done, __ATOMIC_ACQUIRE)) {
			if (st_ring_peek(c, &rec, &len) == -EAGAIN)
				break;
			continue;
		}
		if (++empty_polls > 64)
			sleep_ns(20000);
		else
			sched_yield();
	}
	st_ring_close(c);
	_exit(0);
}

static pid_t spawn(void (*child)(const char *, struct shared *), const char *instance,
		   struct shared *sh)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		child(instance, sh);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Exit status 0 expected. */
static bool reap_ok(pid_t pid, const char *who)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "%s failed (status %d)\n", who, status);
		return false;
	}
	return true;
}

struct tally {
	uint64_t received, dropped_marked, redeliveries, lost, received_dropped;
};

static void tally(const struct shared *sh, struct tally *t)
{
	memset(t, 0, sizeof(*t));
	for (uint64_t seq = 0; seq < sh->records; seq++) {
		uint8_t r = sh->received[seq], m = sh->mark[seq];

		t->received += r > 0;
		t->redeliveries += r > 1 ? r - 1u : 0;
		if (m == MARK_DROPPED && r)
			t->received_dropped++;
		if (m == MARK_DROPPED || (m == MARK_PENDING && !r))
			t->dropped_marked++;
		if (m == MARK_SENT && !r)
			t->lost++;
	}
}

int main(int argc, char **argv)
{
	uint64_t records = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000u;
	unsigned consumer_kills = 0, producer_kills = 0;
	uint64_t started = now_ns();
	char instance[32];
	struct st_ring_stats s;
	struct st_ring *view;
	struct shared *sh;
	struct tally t;
	pid_t prod, cons;
	bool ok = true, producer_exited = false;
	uint64_t exited_at = 0;
	size_t bytes;
	int status;

	if (records < 1000) {
		fprintf(stderr, "usage: ring-stress [records >= 1000]\n");
		return 2;
	}
	snprintf(instance, sizeof(instance), "stress-%d", (int)getpid());
	st_ring_unlink(instance);
	bytes = sizeof(*sh) + 2 * records;
	sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	sh->records = records;
	sh->hold_at = records * 2 / 5;
	sh->received = (uint8_t *)(sh + 1);
	sh->mark = sh->received + records;

	prod = spawn(producer_main, instance, sh);
	cons = spawn(consumer_main, instance, sh);
	/* kills: the consumer at 10% of the records delivered (wherever it is)
	 * and when it holds the record it marked at 40% (peeked, not
	 * released: a re-delivery is due); the producer at 40% and 80% of the
	 * sequence numbers tried.  Each side is restarted at once. */
	for (;;) {
		uint64_t produced = __atomic_load_n(&sh->produced, __ATOMIC_RELAXED);
		uint64_t delivered = __atomic_load_n(&sh->delivered, __ATOMIC_RELAXED);

		if (producer_kills < 2 && produced >= records * (2 + 2 * producer_kills) / 5) {
			kill_and_reap(prod);
			producer_kills++;
			prod = spawn(producer_main, instance, sh);
		} else if (producer_kills == 2 && !producer_exited &&
			   waitpid(prod, &status, WNOHANG) == prod) {
			producer_exited = true;
			exited_at = now_ns();
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				fprintf(stderr, "producer failed (status %d)\n", status);
				ok = false;
			}
		}
		if ((consumer_kills == 0 && delivered >= records / 10) ||
		    (consumer_kills == 1 && __atomic_load_n(&sh->holding, __ATOMIC_ACQUIRE))) {
			kill_and_reap(cons);
			consumer_kills++;
			cons = spawn(consumer_main, instance, sh);
		}
		if (producer_exited && consumer_kills == 2)
			break;
		if (producer_exited && now_ns() - exited_at > 30000000000ull) {
			fprintf(stderr, "FAILED: the consumer never reached %" PRIu64 " deliveries\n",
				sh->hold_at);
			kill_and_reap(cons);
			return 1;
		}
		sleep_ns(1000000);
	}
	__atomic_store_n(&sh->producer_done, 1, __ATOMIC_RELEASE);
	ok &= reap_ok(cons, "consumer");

	view = st_ring_consumer_open(instance);
	if (!view) {
		perror("final attach");
		return 1;
	}
	st_ring_stats(view, &s);
	st_ring_close(view);
	st_ring_unlink(instance);
	tally(sh, &t);

	printf("ring stress: %" PRIu64 " records in %.2f s: received %" PRIu64
	       ", dropped_full %" PRIu64 " (marked %" PRIu64 "), committed %" PRIu64
	       ", re-deliveries %" PRIu64 ", consumer kills %u, producer kills %u, generation %" PRIu64
	       ", corrupt %" PRIu64 ", resyncs %" PRIu64 "\n",
	       records, (double)(now_ns() - started) / 1e9, t.received, s.dropped_full,
	       t.dropped_marked, s.committed, t.redeliveries, consumer_kills, producer_kills,
	       s.generation, s.corrupt, s.resyncs);

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "FAILED: %s\n", #cond);               \
			ok = false;                                           \
		}                                                             \
	} while (0)
	CHECK(sh->bad_payload == 0);
	CHECK(sh->bad_order == 0);
	CHECK(sh->ring_errors == 0);
	CHECK(s.corrupt == 0);
	CHECK(t.received + s.dropped_full == records);
	CHECK(t.dropped_marked == s.dropped_full);
	CHECK(t.received_dropped == 0);
	CHECK(t.lost == 0);
	CHECK(s.committed == t.received);
	CHECK(s.dropped_oversize == 0 && s.lost_on_reinit == 0);
	CHECK(t.redeliveries <= consumer_kills);
	CHECK(t.redeliveries >= 1);             /* the held record, at least */
	CHECK(s.dropped_full > 0);
	CHECK(consumer_kills == 2 && producer_kills == 2);
	CHECK(s.generation == 1 + producer_kills);
	return ok ? 0 : 1;
}
