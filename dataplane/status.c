/*
 * The data plane's status page (shadowtap/status.h): a sequence-locked JSON
 * document in shared memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shadowtap/status.h"

#define READ_RETRIES 1000

struct st_status_writer {
	struct st_status_page *page;
	char name[96];
};

static int page_name(char *buf, size_t n, const char *instance)
{
	int len = snprintf(buf, n, "/shadowtap-%s.status", instance);

	if (!instance[0] || strchr(instance, '/'))
		return -EINVAL;
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

struct st_status_writer *st_status_writer_open(const char *instance)
{
	struct st_status_writer *w = calloc(1, sizeof(*w));
	int fd, err;

	if (!w)
		return NULL;
	err = page_name(w->name, sizeof(w->name), instance);
	if (err) {
		free(w);
		errno = -err;
		return NULL;
	}
	fd = shm_open(w->name, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		goto out_free;
	if (ftruncate(fd, sizeof(struct st_status_page)) < 0)
		goto out_close;
	w->page = mmap(NULL, sizeof(struct st_status_page), PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	if (w->page == MAP_FAILED)
		goto out_close;
	close(fd);
	w->page->magic = ST_STATUS_MAGIC;
	w->page->version = ST_STATUS_VERSION;
	w->page->pid = (int32_t)getpid();
	return w;
out_close:
	err = errno;
	close(fd);
	shm_unlink(w->name);
	errno = err;
out_free:
	err = errno;
	free(w);
	errno = err;
	return NULL;
}

void st_status_write(struct st_status_writer *w, const char *text, size_t len)
{
	struct st_status_page *p = w->page;
	uint64_t seq = __atomic_load_n(&p->seq, __ATOMIC_RELAXED);
	struct timespec ts;

	if (len > ST_STATUS_TEXT_MAX)
		len = ST_STATUS_TEXT_MAX;
	/* Odd: a reader that sees it (or sees it change) retries.  The
	 * release fence keeps the odd store before the text's stores. */
	__atomic_store_n(&p->seq, seq + 1, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_release);
	memcpy(p->text, text, len);
	p->text_len = (uint32_t)len;
	clock_gettime(CLOCK_REALTIME, &ts);
	p->updated_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	/* Release: the text is complete before seq is even again. */
	__atomic_store_n(&p->seq, seq + 2, __ATOMIC_RELEASE);
}

void st_status_writer_close(struct st_status_writer *w)
{
	if (!w)
		return;
	munmap(w->page, sizeof(*w->page));
	shm_unlink(w->name);
	free(w);
}

int st_status_read(const char *instance, char *buf, size_t cap, int32_t *pid,
		   uint64_t *updated_ns)
{
	const struct st_status_page *p;
	char name[96];
	struct stat st;
	int fd, rc = -EAGAIN;

	rc = page_name(name, sizeof(name), instance);
	if (rc)
		return rc;
	fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(*p)) {
		close(fd);
		return -EPROTO;
	}
	p = mmap(NULL, sizeof(*p), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	if (p->magic != ST_STATUS_MAGIC || p->version != ST_STATUS_VERSION) {
		rc = -EPROTO;
		goto out_unmap;
	}
	rc = -EAGAIN;
	for (unsigned i = 0; i < READ_RETRIES; i++) {
		/* Acquire: the text we copy is at least as new as seq. */
		uint64_t before = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
		uint32_t len = __atomic_load_n(&p->text_len, __ATOMIC_RELAXED);

		if (before == 0) {
			rc = -EAGAIN;   /* created, not written yet */
			break;
		}
		if (before & 1) {
			usleep(100);
			continue;
		}
		if (len > ST_STATUS_TEXT_MAX)
			len = ST_STATUS_TEXT_MAX;
		if (len + 1 > cap) {
			rc = -ENOBUFS;
			break;
		}
		memcpy(buf, p->text, len);
		*pid = p->pid;
		*updated_ns = p->updated_ns;
		/* Acquire fence: our copy's loads complete before we re-read
		 * seq. */
		atomic_thread_fence(memory_order_acquire);
		if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) == before) {
			buf[len] = '\0';
			rc = 0;
			break;
		}
	}
out_unmap:
	munmap((void *)p, sizeof(*p));
	return rc;
}
