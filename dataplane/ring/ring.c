/*
 * The shared-memory ring (include/shadowtap/ring.h has the layout, the
 * restart rules and the contract of every call).
 *
 * Memory ordering, in one place: the producer writes a slot, then publishes
 * it with a release store of prod_pos; the consumer loads prod_pos with
 * acquire before it reads any slot below it.  The consumer reads a slot,
 * then gives its space back with a release store of cons_pos; the producer
 * loads cons_pos with acquire before it writes into that space.  Everything
 * else in the header (counters, heartbeat, pid, last_record_pos) is a single
 * writer's relaxed atomic store, read with relaxed loads: a figure, never a
 * guard for data.  Each side keeps a cached copy of the other side's index
 * and reloads it only when the cached one says "full" or "empty".
 *
 * Nothing read from the object is trusted.  The geometry is read once at
 * attach and validated against the object's size; afterwards only the
 * cached geometry is used, so a scribbled header cannot move an access
 * outside the mapping.  Slot headers are copied out once (a compiler
 * barrier keeps later code from reading them again) and every length is
 * checked against the lap end, prod_pos and max_record_bytes before the
 * payload checksum is computed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/compiler.h"
#include "dataplane/ring/ring_mem.h"
#include "dataplane/sketch/hash.h"
#include "shadowtap/ring.h"

/* What one slot position holds, as slot_at() found it. */
enum slot_kind { SLOT_RECORD, SLOT_SKIP, SLOT_CORRUPT };

struct slot {
	const uint8_t *payload;
	uint32_t length;
	uint64_t seq;
	uint64_t next_pos; /* where the following slot starts */
};

/* The validated geometry of one mapping. */
struct ring_view {
	uint8_t *data;
	uint64_t capacity_bytes;
	uint32_t max_record_bytes;
	uint64_t ring_id;
};

struct st_ring {
	struct st_ring_shm_hdr *hdr;
	struct ring_view view;
	void *map;          /* NULL: caller memory (st_ring_attach_memory) */
	size_t map_bytes;
	int fd;             /* -1 with caller memory */
	bool producer;
	char instance[ST_RING_INSTANCE_MAX + 1]; /* "" with caller memory */

	/* producer */
	uint64_t prod_pos;
	uint64_t cons_cached;
	uint64_t resv_pos;   /* where the reserved slot starts (after a pad) */
	uint32_t resv_len;
	bool resv_active;
	uint64_t committed, dropped_full, dropped_oversize;

	/* consumer */
	uint64_t cons_pos;
	uint64_t prod_cached;
	struct slot peeked;
	bool peek_active;
	uint64_t released, corrupt, resyncs;
};

/* ---- atomics on the shared header ---------------------------------- */

static inline uint64_t load_relaxed(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void store_relaxed(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

/* ---- names, geometry, identity -------------------------------------- */

static bool instance_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int st_ring_shm_name(char *buf, size_t n, const char *instance)
{
	size_t len = 0;

	if (!buf || !instance)
		return -EINVAL;
	while (instance[len]) {
		if (len == ST_RING_INSTANCE_MAX)
			return -ENAMETOOLONG;
		if (!instance_char_ok(instance[len]))
			return -EINVAL;
		len++;
	}
	if (len == 0)
		return -EINVAL;
	if (n < sizeof(ST_RING_SHM_PREFIX) + len)
		return -ENAMETOOLONG;
	memcpy(buf, ST_RING_SHM_PREFIX, sizeof(ST_RING_SHM_PREFIX) - 1);
	memcpy(buf + sizeof(ST_RING_SHM_PREFIX) - 1, instance, len + 1);
	return 0;
}

void st_ring_config_default(struct st_ring_config *c)
{
	c->capacity_bytes = ST_RING_DEFAULT_CAPACITY_BYTES;
	c->max_record_bytes = ST_RING_DEFAULT_MAX_RECORD_BYTES;
}

static bool geometry_ok(uint64_t capacity_bytes, uint32_t max_record_bytes)
{
	if (capacity_bytes < ST_RING_CAPACITY_MIN || capacity_bytes > ST_RING_CAPACITY_MAX ||
	    (capacity_bytes & (capacity_bytes - 1)))
		return false;
	return max_record_bytes >= 1 && ST_RING_SLOT_BYTES(max_record_bytes) <= capacity_bytes / 2;
}

static uint64_t identity_check(const struct st_ring_shm_hdr *h)
{
	return st_hash64(h, offsetof(struct st_ring_shm_hdr, identity_check));
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

static bool reserved_zero(const struct st_ring_shm_hdr *h)
{
	return h->reserved0 == 0 && all_zero(h->reserved1, sizeof(h->reserved1)) &&
	       all_zero(h->reserved2, sizeof(h->reserved2)) &&
	       all_zero(h->reserved3, sizeof(h->reserved3)) &&
	       all_zero(h->reserved4, sizeof(h->reserved4));
}

/*
 * Copies the header of an object of object_bytes into *copy (read once: a
 * writer that changes it afterwards cannot change what we validated) and
 * returns 0 when it is one this ABI reads: identity, geometry against the
 * size, reserved bytes.  -EAGAIN while the magic is still 0 (a producer is
 * initialising the object), else -EPROTO.
 */
static int header_check(const struct st_ring_shm_hdr *h, size_t object_bytes,
			struct st_ring_shm_hdr *copy)
{
	/* acquire: pairs with the release store of the magic at the end of
	 * initialisation, so the identity fields copied below are complete */
	uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);

	memcpy(copy, h, sizeof(*copy));
	__asm__ volatile("" ::: "memory");
	copy->magic = magic;
	if (magic == 0)
		return -EAGAIN;
	if (magic != ST_RING_MAGIC || copy->abi_version != ST_RING_ABI_VERSION ||
	    copy->hdr_bytes != ST_RING_HDR_BYTES || copy->flags != 0 ||
	    copy->identity_check != identity_check(copy) || !reserved_zero(copy))
		return -EPROTO;
	if (!geometry_ok(copy->capacity_bytes, copy->max_record_bytes) ||
	    object_bytes != ST_RING_HDR_BYTES + copy->capacity_bytes)
		return -EPROTO;
	return 0;
}

/* Indices a producer may continue from (a consumer resyncs on its own). */
static bool indices_ok(const struct st_ring_shm_hdr *copy)
{
	uint64_t prod = copy->prod_pos, cons = copy->cons_pos;

	return prod % ST_RING_ALIGN == 0 && cons % ST_RING_ALIGN == 0 && cons <= prod &&
	       prod - cons <= copy->capacity_bytes;
}

/* The geometry of a validated header copy; the data follows the header. */
static void view_from_copy(struct ring_view *v, void *object, const struct st_ring_shm_hdr *copy)
{
	v->data = (uint8_t *)object + ST_RING_HDR_BYTES;
	v->capacity_bytes = copy->capacity_bytes;
	v->max_record_bytes = copy->max_record_bytes;
	v->ring_id = copy->ring_id;
}

/* ---- slots ------------------------------------------------------------ */

/* A pad's payload (payload NULL) is hashed as empty. */
static uint64_t slot_check(const struct ring_view *v, uint64_t pos, uint32_t kind,
			   uint32_t length, uint64_t seq, const void *payload)
{
	return XXH3_64bits_withSeed(payload, payload ? length : 0,
				    st_ring_slot_seed(v->ring_id, pos, kind, length, seq));
}

/*
 * What starts at pos, given that the producer has published up to prod
 * (pos < prod, prod - pos <= capacity).  Reads only [pos, prod) of the lap.
 */
static enum slot_kind slot_at(const struct ring_view *v, uint64_t pos, uint64_t prod,
			      struct slot *out)
{
	uint64_t off = pos & (v->capacity_bytes - 1);
	uint64_t lap_left = v->capacity_bytes - off;
	uint64_t avail = prod - pos;
	struct st_ring_slot_hdr sh;
	uint64_t slot_bytes;

	if (lap_left < ST_RING_SLOT_HDR_BYTES) {   /* the unmarked end of a lap */
		if (avail < lap_left)
			return SLOT_CORRUPT;
		out->next_pos = pos + lap_left;
		return SLOT_SKIP;
	}
	if (avail < ST_RING_SLOT_HDR_BYTES)
		return SLOT_CORRUPT;
	memcpy(&sh, v->data + off, sizeof(sh));
	/* the header is read once: nothing below may reload it from shm */
	__asm__ volatile("" ::: "memory");

	if (sh.kind == ST_RING_SLOT_PAD) {
		if (sh.length != lap_left - ST_RING_SLOT_HDR_BYTES || sh.seq != 0 ||
		    avail < lap_left ||
		    sh.check != slot_check(v, pos, ST_RING_SLOT_PAD, sh.length, 0, NULL))
			return SLOT_CORRUPT;
		out->next_pos = pos + lap_left;
		return SLOT_SKIP;
	}
	if (sh.kind != ST_RING_SLOT_RECORD || sh.length > v->max_record_bytes)
		return SLOT_CORRUPT;
	slot_bytes = ST_RING_SLOT_BYTES(sh.length);
	if (slot_bytes > lap_left || slot_bytes > avail)
		return SLOT_CORRUPT;
	out->payload = v->data + off + ST_RING_SLOT_HDR_BYTES;
	if (sh.check != slot_check(v, pos, ST_RING_SLOT_RECORD, sh.length, sh.seq, out->payload))
		return SLOT_CORRUPT;
	out->length = sh.length;
	out->seq = sh.seq;
	out->next_pos = pos + slot_bytes;
	return SLOT_RECORD;
}

/* Valid records in [cons, prod): what an initialisation loses.  Stops at the
 * first corrupt slot (what follows cannot be told apart from garbage). */
static uint64_t count_records(const struct ring_view *v, uint64_t cons, uint64_t prod)
{
	uint64_t records = 0;
	struct slot s;

	while (cons < prod) {
		enum slot_kind k = slot_at(v, cons, prod, &s);

		if (k == SLOT_CORRUPT)
			break;
		records += k == SLOT_RECORD;
		cons = s.next_pos;
	}
	return records;
}

/* ---- objects: open, lock, map ---------------------------------------- */

static int lock_byte(int fd, off_t byte)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1,
	};

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return (errno == EAGAIN || errno == EACCES) ? -EBUSY : -errno;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t new_ring_id(void)
{
	uint64_t id;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) == (ssize_t)sizeof(id) && id)
		return id;
	id = clock_ns(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32);
	return st_hash64(&id, sizeof(id)) | 1;
}

static struct st_ring *ring_alloc(const char *instance)
{
	struct st_ring *r = calloc(1, sizeof(*r));

	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->fd = -1;
	if (instance)
		strcpy(r->instance, instance); /* length checked by st_ring_shm_name */
	return r;
}

/* Maps the whole of fd; *bytes gets its size.  NULL + errno. */
static void *map_object(int fd, size_t *bytes)
{
	struct stat st;
	void *m;

	if (fstat(fd, &st) < 0)
		return NULL;
	if ((uint64_t)st.st_size < ST_RING_HDR_BYTES ||
	    (uint64_t)st.st_size > ST_RING_HDR_BYTES + ST_RING_CAPACITY_MAX) {
		errno = st.st_size == 0 ? EAGAIN : EPROTO;
		return NULL;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return NULL;
	*bytes = (size_t)st.st_size;
	return m;
}

void st_ring_close(struct st_ring *r)
{
	if (!r)
		return;
	if (r->producer && r->hdr)  /* a clean exit: no producer from now on */
		__atomic_store_n(&r->hdr->producer_pid, 0, __ATOMIC_RELAXED);
	if (r->map)
		munmap(r->map, r->map_bytes);
	if (r->fd >= 0)
		close(r->fd); /* drops the OFD lock */
	free(r);
}

int st_ring_unlink(const char *instance)
{
	char name[ST_RING_SHM_NAME_MAX];
	int rc = st_ring_shm_name(name, sizeof(name), instance);

	if (rc)
		return rc;
	return shm_unlink(name) == 0 ? 0 : -errno;
}

/* ---- consumer --------------------------------------------------------- */

/* Validates the object at r->hdr of r->map_bytes and sets up the consumer
 * side from it.  0, -EAGAIN or -EPROTO (a retired object too). */
static int consumer_attach(struct st_ring *r)
{
	struct st_ring_shm_hdr copy;
	int rc = header_check(r->hdr, r->map_bytes, &copy);

	if (rc)
		return rc;
	if (copy.retired)
		return -EPROTO;
	view_from_copy(&r->view, r->hdr, &copy);
	/* a consumer only ever stores aligned positions */
	r->cons_pos = copy.cons_pos & ~(uint64_t)(ST_RING_ALIGN - 1);
	r->prod_cached = r->cons_pos;
	r->released = copy.released;
	r->corrupt = copy.corrupt;
	r->resyncs = copy.resyncs;
	return 0;
}

struct st_ring *st_ring_attach_memory(void *mem, size_t len)
{
	struct st_ring *r;
	int rc;

	if (!mem || (uintptr_t)mem % ST_RING_ALIGN || len < ST_RING_HDR_BYTES) {
		errno = mem && len < ST_RING_HDR_BYTES ? EPROTO : EINVAL;
		return NULL;
	}
	r = ring_alloc(NULL);
	if (!r)
		return NULL;
	r->hdr = mem;
	r->map_bytes = len;
	rc = consumer_attach(r);
	if (rc) {
		st_ring_close(r);
		errno = -rc;
		return NULL;
	}
	return r;
}

struct st_ring *st_ring_consumer_open(const char *instance)
{
	char name[ST_RING_SHM_NAME_MAX];
	struct st_ring *r;
	int rc, saved;

	rc = st_ring_shm_name(name, sizeof(name), instance);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	r = ring_alloc(instance);
	if (!r)
		return NULL;
	r->fd = shm_open(name, O_RDWR, 0);
	if (r->fd < 0)
		goto out_free;
	rc = lock_byte(r->fd, 1);
	if (rc) {
		errno = -rc;
		goto out_free;
	}
	r->map = map_object(r->fd, &r->map_bytes);
	if (!r->map)
		goto out_free;
	r->hdr = r->map;
	rc = consumer_attach(r);
	if (rc) {
		errno = -rc;
		goto out_free;
	}
	return r;

out_free:
	saved = errno;
	st_ring_close(r);
	errno = saved;
	return NULL;
}

/* The producer replaced the object: attach to its successor, carrying this
 * consumer's counters over.  -ESTALE when attached, -EAGAIN when not yet. */
static int consumer_reattach(struct st_ring *r)
{
	struct st_ring *next, old;

	if (!r->instance[0])
		return -EAGAIN;
	next = st_ring_consumer_open(r->instance);
	if (!next)
		return -EAGAIN;
	next->released = r->released;
	next->corrupt = r->corrupt;
	next->resyncs = r->resyncs + 1;
	store_relaxed(&next->hdr->released, next->released);
	store_relaxed(&next->hdr->corrupt, next->corrupt);
	store_relaxed(&next->hdr->resyncs, next->resyncs);

	old = *r;
	*r = *next;
	*next = old;
	st_ring_close(next); /* the old mapping and its lock */
	return -ESTALE;
}

static void consumer_advance(struct st_ring *r, uint64_t pos)
{
	r->cons_pos = pos;
	/* release (seq_cst for producer_replace): our reads of the slots below
	 * pos happen before the producer (acquire load of cons_pos in reserve)
	 * may overwrite them */
	__atomic_store_n(&r->hdr->cons_pos, pos, __ATOMIC_SEQ_CST);
}

/* A corrupt slot or index: count it, jump to a safe place, -EBADMSG. */
static int consumer_skip_corrupt(struct st_ring *r, uint64_t safe_pos)
{
	r->corrupt++;
	store_relaxed(&r->hdr->corrupt, r->corrupt);
	consumer_advance(r, safe_pos); /* safe_pos <= prod_cached */
	return -EBADMSG;
}

/* 0 with prod_cached > cons_pos, -EAGAIN when empty, -EBADMSG (resynced)
 * when the producer's index cannot be right. */
static int consumer_refresh(struct st_ring *r)
{
	/* acquire: pairs with the release store in commit, so every slot byte
	 * below this index is visible before we read it */
	uint64_t prod = __atomic_load_n(&r->hdr->prod_pos, __ATOMIC_ACQUIRE);

	prod &= ~(uint64_t)(ST_RING_ALIGN - 1);
	if (prod == r->cons_pos)
		return -EAGAIN;
	if (prod < r->cons_pos || prod - r->cons_pos > r->view.capacity_bytes) {
		r->prod_cached = prod;
		return consumer_skip_corrupt(r, prod);
	}
	r->prod_cached = prod;
	return 0;
}

int st_ring_peek(struct st_ring *r, const void **rec, uint32_t *len)
{
	struct slot s;
	int rc;

	if (r->peek_active)
		goto out_record;
	/* acquire (seq_cst for producer_replace): a retired object's successor
	 * is complete before we open it */
	if (__atomic_load_n(&r->hdr->retired, __ATOMIC_SEQ_CST))
		return consumer_reattach(r);
	for (;;) {  /* each pass moves cons_pos forward or returns */
		if (r->cons_pos == r->prod_cached) {
			rc = consumer_refresh(r);
			if (rc)
				return rc;
		}
		switch (slot_at(&r->view, r->cons_pos, r->prod_cached, &s)) {
		case SLOT_SKIP:
			consumer_advance(r, s.next_pos);
			continue;
		case SLOT_RECORD:
			r->peeked = s;
			r->peek_active = true;
			goto out_record;
		case SLOT_CORRUPT:
			/* a lap boundary is always a slot boundary (ring.h) */
			return consumer_skip_corrupt(r, ST_MIN((r->cons_pos | (r->view.capacity_bytes - 1)) + 1,
							       r->prod_cached));
		}
	}

out_record:
	*rec = r->peeked.payload;
	*len = r->peeked.length;
	return 0;
}

uint64_t st_ring_peek_pos(const struct st_ring *r)
{
	return r->peek_active ? r->cons_pos : UINT64_MAX;
}

void st_ring_release(struct st_ring *r)
{
	if (!r->peek_active)
		return;
	r->peek_active = false;
	consumer_advance(r, r->peeked.next_pos);
	r->released++;
	store_relaxed(&r->hdr->released, r->released);
}

/* ---- producer --------------------------------------------------------- */

/* Sets up the producer side from a validated copy of r's header. */
static void producer_load(struct st_ring *r, const struct st_ring_shm_hdr *copy)
{
	view_from_copy(&r->view, r->hdr, copy);
	r->prod_pos = copy->prod_pos;
	r->cons_cached = copy->cons_pos;
	r->committed = copy->committed;
	r->dropped_full = copy->dropped_full;
	r->dropped_oversize = copy->dropped_oversize;
}

/* Stamps a producer open: generation, pid, heartbeat. */
static void producer_stamp(struct st_ring *r, uint64_t generation)
{
	struct st_ring_shm_hdr *h = r->hdr;

	store_relaxed(&h->generation, generation);
	__atomic_store_n(&h->producer_pid, (int32_t)getpid(), __ATOMIC_RELAXED);
	store_relaxed(&h->heartbeat_ns, clock_ns(CLOCK_MONOTONIC));
}

/*
 * A predecessor killed between publishing a record (prod_pos) and counting
 * it (committed) left committed one short; the last slot's seq says so.
 */
static void producer_catch_up(struct st_ring *r)
{
	uint64_t last = load_relaxed(&r->hdr->last_record_pos);
	struct slot s;

	if (last >= r->prod_pos || r->prod_pos - last > r->view.capacity_bytes)
		return;
	if (slot_at(&r->view, last, r->prod_pos, &s) == SLOT_RECORD &&
	    s.next_pos == r->prod_pos && s.seq == r->committed) {
		r->committed++;
		store_relaxed(&r->hdr->committed, r->committed);
	}
}

/* What a replaced object leaves to its successor. */
struct legacy {
	uint64_t generation;
	uint64_t committed, dropped_full, dropped_oversize, lost_on_reinit;
	uint64_t released, corrupt, resyncs;
};

/* Fills a fresh, zeroed object: identity last, magic last of all. */
static void object_init(struct st_ring_shm_hdr *h, const struct st_ring_config *cfg,
			const struct legacy *old)
{
	struct st_ring_shm_hdr copy;

	h->abi_version = ST_RING_ABI_VERSION;
	h->hdr_bytes = ST_RING_HDR_BYTES;
	h->capacity_bytes = cfg->capacity_bytes;
	h->max_record_bytes = cfg->max_record_bytes;
	h->ring_id = new_ring_id();
	h->created_ns = clock_ns(CLOCK_REALTIME);
	h->committed = old->committed;
	h->dropped_full = old->dropped_full;
	h->dropped_oversize = old->dropped_oversize;
	h->lost_on_reinit = old->lost_on_reinit;
	h->released = old->released;
	h->corrupt = old->corrupt;
	h->resyncs = old->resyncs;
	h->generation = old->generation;
	memcpy(&copy, h, sizeof(copy));
	copy.magic = ST_RING_MAGIC;
	h->identity_check = identity_check(&copy);
	/* release: a consumer that sees the magic (acquire in header_check)
	 * sees every field written above */
	__atomic_store_n(&h->magic, ST_RING_MAGIC, __ATOMIC_RELEASE);
}

/* Creates the object under name (it must not exist), initialised, locked,
 * mapped into r.  0 or -errno. */
static int producer_create(struct st_ring *r, const char *name, const struct st_ring_config *cfg,
			   const struct legacy *old)
{
	size_t bytes = ST_RING_HDR_BYTES + cfg->capacity_bytes;
	int rc;

	r->fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0660);
	if (r->fd < 0)
		return -errno;
	rc = lock_byte(r->fd, 0);
	if (rc) {
		shm_unlink(name);
		return rc;
	}
	if (fchmod(r->fd, 0660) < 0 || ftruncate(r->fd, (off_t)bytes) < 0)
		goto out_unlink;
	r->map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		goto out_unlink;
	}
	r->map_bytes = bytes;
	r->hdr = r->map;
	object_init(r->hdr, cfg, old);
	producer_load(r, r->hdr); /* ours alone until the magic is seen */
	producer_stamp(r, old->generation + 1);
	return 0;

out_unlink:
	rc = -errno;
	shm_unlink(name);
	return rc ? rc : -EIO;
}

/*
 * What an object we are about to replace leaves behind (counters, the
 * generation) without its records: those it still holds are counted lost
 * later, by legacy_lost(), once the object is retired.
 */
static bool legacy_of(const struct st_ring_shm_hdr *h, size_t bytes, struct legacy *old,
		      struct ring_view *v)
{
	struct st_ring_shm_hdr copy;

	memset(old, 0, sizeof(*old));
	if (header_check(h, bytes, &copy) == 0 && indices_ok(&copy)) {
		view_from_copy(v, (void *)h, &copy);
		old->generation = copy.generation;
		old->committed = copy.committed;
		old->dropped_full = copy.dropped_full;
		old->dropped_oversize = copy.dropped_oversize;
		old->lost_on_reinit = copy.lost_on_reinit;
		old->released = copy.released;
		old->corrupt = copy.corrupt;
		old->resyncs = copy.resyncs;
		return true;
	}
	/* a header that does not verify: its counters are a guess at best */
	if (copy.committed >= copy.released &&
	    copy.committed - copy.released <= bytes / ST_RING_SLOT_HDR_BYTES)
		old->lost_on_reinit = copy.committed - copy.released;
	return false;
}

/* Takes over r's object if it has our geometry and sane indices. */
static bool producer_takeover(struct st_ring *r, const struct st_ring_config *cfg)
{
	struct st_ring_shm_hdr copy;

	if (header_check(r->hdr, r->map_bytes, &copy) || copy.capacity_bytes != cfg->capacity_bytes ||
	    copy.max_record_bytes != cfg->max_record_bytes || copy.retired || !indices_ok(&copy))
		return false;
	producer_load(r, &copy);
	producer_catch_up(r);
	producer_stamp(r, copy.generation + 1);
	return true;
}

/*
 * The existing object (locked by us, mapped in old unless it was too small
 * to map) is replaced: unlink, create the successor, retire the old one (so
 * that a consumer that sees `retired` finds the successor under the name),
 * and only then count the records the old one still held.  The retire store
 * and the cons_pos load are seq_cst, as are the consumer's retired load and
 * cons_pos store: either the consumer sees `retired` before its next peek or
 * we see its release, so at most the one record it had peeked at that moment
 * is both delivered and counted lost.
 */
static int producer_replace(struct st_ring *r, struct st_ring *old, const char *name,
			    const struct st_ring_config *cfg)
{
	struct legacy legacy;
	struct ring_view v;
	bool exact = false;
	uint64_t lost;
	int rc;

	memset(&legacy, 0, sizeof(legacy));
	if (old->map)
		exact = legacy_of(old->hdr, old->map_bytes, &legacy, &v);
	if (shm_unlink(name) < 0 && errno != ENOENT)
		return -errno;
	rc = producer_create(r, name, cfg, &legacy);
	if (rc)
		return rc == -EEXIST ? -EBUSY : rc;
	if (!old->map)
		return 0;
	__atomic_store_n(&old->hdr->retired, 1, __ATOMIC_SEQ_CST);
	if (exact) {
		lost = count_records(&v, __atomic_load_n(&old->hdr->cons_pos, __ATOMIC_SEQ_CST),
				     load_relaxed(&old->hdr->prod_pos));
		store_relaxed(&r->hdr->lost_on_reinit, legacy.lost_on_reinit + lost);
	}
	return 0;
}

/*
 * The name exists: take its object over (into old, which becomes the
 * producer's handle) or replace it (into r).  0 with *out set, or -errno.
 */
static int producer_adopt(struct st_ring *r, struct st_ring *old, const char *name,
			  const struct st_ring_config *cfg, struct st_ring **out)
{
	int rc;

	old->fd = shm_open(name, O_RDWR, 0);
	if (old->fd < 0)
		return errno == ENOENT ? -EBUSY : -errno; /* another producer is replacing it */
	rc = lock_byte(old->fd, 0);
	if (rc)
		return rc;
	old->map = map_object(old->fd, &old->map_bytes); /* NULL: too small, replaced */
	if (old->map) {
		old->hdr = old->map;
		if (producer_takeover(old, cfg)) {
			old->producer = true;
			*out = old;
			return 0;
		}
	}
	rc = producer_replace(r, old, name, cfg);
	*out = r;
	return rc;
}

struct st_ring *st_ring_producer_open(const char *instance, const struct st_ring_config *cfg)
{
	char name[ST_RING_SHM_NAME_MAX];
	struct st_ring *r, *old, *out = NULL;
	struct st_ring_config defaults;
	struct legacy fresh;
	int rc;

	rc = st_ring_shm_name(name, sizeof(name), instance);
	if (rc)
		goto out_errno;
	if (!cfg) {
		st_ring_config_default(&defaults);
		cfg = &defaults;
	}
	rc = -EINVAL;
	if (!geometry_ok(cfg->capacity_bytes, cfg->max_record_bytes))
		goto out_errno;
	r = ring_alloc(instance);
	old = ring_alloc(instance);
	rc = -ENOMEM;
	if (!r || !old)
		goto out_close;
	r->producer = true;

	memset(&fresh, 0, sizeof(fresh));
	rc = producer_create(r, name, cfg, &fresh);
	if (rc == 0)
		out = r;
	else if (rc == -EEXIST)
		rc = producer_adopt(r, old, name, cfg, &out);

out_close:
	/* the one not returned: its mapping, fd and lock */
	st_ring_close(out == old ? r : old);
	if (rc == 0)
		return out;
	st_ring_close(out == old ? old : r);
out_errno:
	errno = -rc;
	return NULL;
}

void *st_ring_reserve(struct st_ring *r, uint32_t len)
{
	uint64_t slot_bytes, lap_left, start, end;

	r->resv_active = false;
	if (unlikely(len > r->view.max_record_bytes)) {
		r->dropped_oversize++;
		store_relaxed(&r->hdr->dropped_oversize, r->dropped_oversize);
		return NULL;
	}
	slot_bytes = ST_RING_SLOT_BYTES(len);
	lap_left = r->view.capacity_bytes - (r->prod_pos & (r->view.capacity_bytes - 1));
	start = lap_left < slot_bytes ? r->prod_pos + lap_left : r->prod_pos;
	end = start + slot_bytes;
	if (end - r->cons_cached > r->view.capacity_bytes) {
		/* acquire: pairs with the consumer's release of cons_pos, so its
		 * reads of the space we are about to reuse are finished */
		r->cons_cached = __atomic_load_n(&r->hdr->cons_pos, __ATOMIC_ACQUIRE);
		if (end - r->cons_cached > r->view.capacity_bytes) {
			r->dropped_full++;
			store_relaxed(&r->hdr->dropped_full, r->dropped_full);
			return NULL;
		}
	}
	r->resv_pos = start;
	r->resv_len = len;
	r->resv_active = true;
	return r->view.data + (start & (r->view.capacity_bytes - 1)) + ST_RING_SLOT_HDR_BYTES;
}

static void write_slot_hdr(struct st_ring *r, uint64_t pos, uint32_t kind, uint32_t length,
			   uint64_t seq, const void *payload)
{
	struct st_ring_slot_hdr sh = {
		.length = length,
		.kind = kind,
		.seq = seq,
		.check = slot_check(&r->view, pos, kind, length, seq, payload),
	};

	memcpy(r->view.data + (pos & (r->view.capacity_bytes - 1)), &sh, sizeof(sh));
}

void st_ring_commit(struct st_ring *r, uint32_t used)
{
	uint64_t lap_left, end;

	if (!r->resv_active)
		return;
	r->resv_active = false;
	used = ST_MIN(used, r->resv_len);
	if (r->resv_pos != r->prod_pos) {
		lap_left = r->resv_pos - r->prod_pos;
		if (lap_left >= ST_RING_SLOT_HDR_BYTES)
			write_slot_hdr(r, r->prod_pos, ST_RING_SLOT_PAD,
				       (uint32_t)(lap_left - ST_RING_SLOT_HDR_BYTES), 0, NULL);
	}
	write_slot_hdr(r, r->resv_pos, ST_RING_SLOT_RECORD, used, r->committed,
		       r->view.data + (r->resv_pos & (r->view.capacity_bytes - 1)) +
			       ST_RING_SLOT_HDR_BYTES);
	store_relaxed(&r->hdr->last_record_pos, r->resv_pos);
	end = r->resv_pos + ST_RING_SLOT_BYTES(used);
	/* release: the pad, the slot header and the payload are written before
	 * a consumer can load an index that covers them */
	__atomic_store_n(&r->hdr->prod_pos, end, __ATOMIC_RELEASE);
	r->prod_pos = end;
	r->committed++;
	store_relaxed(&r->hdr->committed, r->committed);
}

void st_ring_heartbeat(struct st_ring *r, uint64_t now_ns)
{
	store_relaxed(&r->hdr->heartbeat_ns, now_ns);
}

/* ---- either side ------------------------------------------------------ */

void st_ring_stats(const struct st_ring *r, struct st_ring_stats *s)
{
	const struct st_ring_shm_hdr *h = r->hdr;
	uint64_t prod = load_relaxed(&h->prod_pos), cons = load_relaxed(&h->cons_pos);

	memset(s, 0, sizeof(*s));
	s->committed = load_relaxed(&h->committed);
	s->dropped_full = load_relaxed(&h->dropped_full);
	s->dropped_oversize = load_relaxed(&h->dropped_oversize);
	s->lost_on_reinit = load_relaxed(&h->lost_on_reinit);
	s->released = load_relaxed(&h->released);
	s->corrupt = load_relaxed(&h->corrupt);
	s->resyncs = load_relaxed(&h->resyncs);
	s->generation = load_relaxed(&h->generation);
	s->heartbeat_ns = load_relaxed(&h->heartbeat_ns);
	s->producer_pid = __atomic_load_n(&h->producer_pid, __ATOMIC_RELAXED);
	s->capacity_bytes = r->view.capacity_bytes;
	s->used_bytes = prod >= cons ? ST_MIN(prod - cons, r->view.capacity_bytes) : 0;
}

bool st_ring_producer_alive(const struct st_ring *r, uint64_t now_ns, uint64_t stale_ns)
{
	uint64_t beat = load_relaxed(&r->hdr->heartbeat_ns);
	int32_t pid = __atomic_load_n(&r->hdr->producer_pid, __ATOMIC_RELAXED);

	if (pid <= 0 || (now_ns > beat && now_ns - beat > stale_ns))
		return false;
	return kill(pid, 0) == 0 || errno == EPERM;
}
