/* SPDX-License-Identifier: MIT */
/*
 * The scribble test's tasks, run inside the workers: they find their own
 * region through /proc/self/maps, as a hostile task could, and damage it.
 */
#include "scribble.h"

/* ---- inside a worker: finding and reading the region -------------------- */

struct region {
	unsigned char *base;
	size_t size;
	unsigned lines;   /* maps lines naming the memfd */
	unsigned inodes;  /* distinct memfds among them */
};

/* The rp-worker memfd mappings of this process, as /proc/self/maps says. */
static int find_region(struct region *r)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long seen[16];
	char line[512];

	memset(r, 0, sizeof(*r));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;
		unsigned i;

		if (!strstr(line, "/memfd:rp-worker"))
			continue;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &ino) != 3)
			continue;
		r->lines++;
		for (i = 0; i < r->inodes && seen[i] != ino; i++)
			;
		if (i == r->inodes && r->inodes < 16)
			seen[r->inodes++] = ino;
		if (!r->base || (unsigned char *)lo < r->base) {
			r->base = (unsigned char *)lo;
			r->size = hi - lo;
		}
	}
	fclose(f);
	return r->inodes == 1 ? 0 : -1;
}

/* Whether any mapping of this process covers addr. */
static bool is_mapped(uint64_t addr)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			found = addr >= lo && addr < hi;
	}
	fclose(f);
	return found;
}

struct layout {
	struct rp_worker_ctl *ctl;
	struct rp_ring_shared *tasks, *results;
	unsigned char *tdata, *rdata;
	uint64_t cap;
};

/* proto.h's layout over the region, checked against what we configured. */
static int layout_of(const struct region *r, struct layout *l)
{
	size_t ring = rp__ring_bytes(RING_BYTES);

	if (r->size < RP_WORKER_CTL_BYTES + 2 * ring)
		return -1;
	l->ctl = (struct rp_worker_ctl *)r->base;
	l->tasks = (struct rp_ring_shared *)(r->base + RP_WORKER_CTL_BYTES);
	l->results = (struct rp_ring_shared *)(r->base + RP_WORKER_CTL_BYTES +
					       ring);
	l->tdata = (unsigned char *)(l->tasks + 1);
	l->rdata = (unsigned char *)(l->results + 1);
	l->cap = RING_BYTES;
	if (l->ctl->magic != RP_WORKER_CTL_MAGIC ||
	    l->tasks->magic != RP_RING_MAGIC || l->tasks->capacity != l->cap ||
	    l->results->magic != RP_RING_MAGIC || l->results->capacity != l->cap)
		return -1;
	return 0;
}

static int find_layout(struct region *r, struct layout *l)
{
	return find_region(r) == 0 && layout_of(r, l) == 0 ? 0 : -1;
}

/* The slot of the running apply task, from its record in the task ring:
 * arg is the record's inline item, right after struct rp_task_rec. */
static int own_slot(const struct layout *l, const void *arg, size_t len,
		    rp_task_fn fn, uint32_t *ret_slot)
{
	const unsigned char *rec = (const unsigned char *)arg -
				   sizeof(struct rp_task_rec);
	struct rp_task_rec t;
	uint64_t hdr;

	if (rec - RP_RING_HDR < l->tdata ||
	    (const unsigned char *)arg + len > l->tdata + l->cap)
		return -1;
	memcpy(&t, rec, sizeof(t));
	memcpy(&hdr, rec - RP_RING_HDR, sizeof(hdr));
	if ((uint16_t)(hdr >> 32) != RP_REC_TASK ||
	    t.fn != (uint64_t)(uintptr_t)fn || t.nitems != 1 ||
	    t.item_size != len || t.slot >= RP_SLOTS)
		return -1;
	*ret_slot = t.slot;
	return 0;
}

/* Until the owner consumed and released all we published: the whole ring
 * is ours to forge in, and nothing of the owner's is in flight. */
static int wait_quiet(const struct layout *l)
{
	int64_t end = now_ns() + GUARD_NS;

	while (atomic_load_explicit(&l->results->head, memory_order_acquire) !=
	       atomic_load_explicit(&l->results->tail, memory_order_acquire)) {
		if (now_ns() > end)
			return -1;
		sched_yield();
	}
	return 0;
}

/*
 * The eventfd the owner's loop reads for this worker where it cannot wait
 * on the futex (the "uring_futex" fallback, lib/fallback.h): the one
 * eventfd a worker keeps.  -1 where there is none.
 */
static int owner_eventfd(void)
{
	char path[64], target[64];

	for (int fd = 3; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[eventfd]") == 0)
			return fd;
	}
	return -1;
}

/* The wake half of wake.h's handshake, as the worker's producer does it. */
static void wake_owner(struct rp_wake_word *w)
{
	if (atomic_load_explicit(&w->sleeping, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst)) {
		uint64_t one = 1;
		int efd = owner_eventfd();

		atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
		syscall(SYS_futex, &w->seq, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
		if (efd >= 0 && write(efd, &one, sizeof(one)) < 0)
			return; /* saturated: the owner wakes anyway */
	}
}

static void publish_tail(const struct layout *l, uint64_t tail)
{
	atomic_store_explicit(&l->results->tail, tail, memory_order_seq_cst);
	wake_owner(&l->results->readable);
}

/* The owner must kill us now; a SIGTERM from a failed case's clean-up
 * ends the wait too. */
__attribute__((noreturn)) static void wait_to_be_killed(void)
{
	for (;;)
		pause();
}

/* ---- inside a worker: forging records ------------------------------------ */

struct forge {
	unsigned char *data;
	uint64_t cap;
	uint64_t tail;   /* free-running, where the next record goes */
};

/* A header and up to n body bytes at the tail; the tail moves by advance. */
static void forge_raw(struct forge *f, uint64_t hdr, const void *body,
		      uint32_t n, uint64_t advance)
{
	uint64_t pos = f->tail & (f->cap - 1);

	memcpy(f->data + pos, &hdr, sizeof(hdr));
	if (n > f->cap - pos - RP_RING_HDR)
		n = (uint32_t)(f->cap - pos - RP_RING_HDR);
	if (n)
		memcpy(f->data + pos + RP_RING_HDR, body, n);
	f->tail += advance;
}

/* A well-framed record: after a wrap marker where it would cross the end. */
static void forge_rec(struct forge *f, uint16_t kind, const void *body,
		      uint32_t len)
{
	uint64_t size = rp__ring_record_size(len);
	uint64_t to_end = f->cap - (f->tail & (f->cap - 1));

	if (size > to_end)
		forge_raw(f, rp__ring_header(RP_RING_KIND_WRAP,
					     (uint32_t)(to_end - RP_RING_HDR)),
			  NULL, 0, to_end);
	forge_raw(f, rp__ring_header(kind, len), body, len, size);
}

static void put_result(struct forge *f, uint32_t slot, uint32_t flags,
		       uint64_t result_len, uint32_t nfail, uint32_t body_len)
{
	struct rp_result_rec r = { .slot = slot, .flags = flags,
				   .result_len = result_len, .nfail = nfail };
	struct val v = { .v = FORGED_VALUE, .pid = -1, .worker = -1 };
	unsigned char buf[sizeof(r) + 64] = { 0 };

	memcpy(buf, &r, sizeof(r));
	memcpy(buf + sizeof(r), &v, sizeof(v));
	forge_rec(f, RP_REC_RESULT, buf, (uint32_t)sizeof(r) + body_len);
}

static void put_fail(struct forge *f, uint32_t slot, uint32_t item,
		     int32_t code, uint32_t msg_len, uint32_t body_len)
{
	struct rp_fail_rec r = { .slot = slot, .item = item, .code = code,
				 .msg_len = msg_len };
	unsigned char buf[sizeof(r) + 512];

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, &r, sizeof(r));
	forge_rec(f, RP_REC_FAIL, buf, (uint32_t)sizeof(r) + body_len);
}

static void put_frag(struct forge *f, uint32_t slot, uint64_t offset,
		     uint32_t body_len)
{
	struct rp_frag_rec r = { .slot = slot, .offset = offset };
	unsigned char buf[sizeof(r) + 64];

	memset(buf, 'f', sizeof(buf));
	memcpy(buf, &r, sizeof(r));
	forge_rec(f, RP_REC_FRAG, buf, (uint32_t)sizeof(r) + body_len);
}

/*
 * Forge what sc says at the result ring's tail and publish it.  Returns
 * only when sc is not a forging one (0) or S cannot do it (E_PLACE).
 * The apply task's result room is sizeof(struct val) = 16 bytes: a full
 * RESULT for it says result_len 16 (or less) with as many body bytes.
 */
static int forge(const struct layout *l, uint32_t slot, enum scribble sc)
{
	const uint32_t full = sizeof(struct val);
	uint64_t t0 = atomic_load_explicit(&l->results->tail, memory_order_acquire);
	struct forge f = { .data = l->rdata, .cap = l->cap, .tail = t0 };
	uint64_t to_end = l->cap - (t0 & (l->cap - 1));
	unsigned char zero[64] = { 0 };

	switch (sc) {
	case SC_TAIL_FAR_AHEAD:
		publish_tail(l, t0 + 64 * l->cap);
		break;
	case SC_TAIL_CAP_PLUS_8:
		publish_tail(l, t0 + l->cap + 8);
		break;
	case SC_TAIL_REPLAY:
		publish_tail(l, t0 + l->cap);
		break;
	case SC_TAIL_BACK_8:
		publish_tail(l, t0 - 8);
		break;
	case SC_TAIL_ZERO:
		publish_tail(l, 0);
		break;
	case SC_TAIL_ODD:
		publish_tail(l, 0x0123456789abcdefull);
		break;
	case SC_TAIL_PLUS_4:
		publish_tail(l, t0 + 4);
		break;
	case SC_TAIL_ALL_ONES:
		publish_tail(l, UINT64_MAX);
		break;
	case SC_KIND_ZERO:
		forge_raw(&f, rp__ring_header(0, 24), zero, 24, 32);
		break;
	case SC_KIND_PAST_MAX:
		forge_raw(&f, rp__ring_header(RP_REC_KIND_MAX + 1, 24), zero, 24,
			  32);
		break;
	case SC_KIND_USER_MAX:
		forge_raw(&f, rp__ring_header(RP_RING_KIND_MAX, 24), zero, 24, 32);
		break;
	case SC_KIND_TASK: {
		struct rp_task_rec t = { .slot = slot, .nitems = 1 };

		forge_rec(&f, RP_REC_TASK, &t, sizeof(t));
		break;
	}
	case SC_KIND_EXIT:
		forge_rec(&f, RP_REC_EXIT, NULL, 0);
		break;
	case SC_KIND_INIT_AGAIN: {
		struct rp_fail_rec r = { 0 };

		forge_rec(&f, RP_REC_INIT, &r, sizeof(r));
		break;
	}
	case SC_HDR_HIGH_BITS: {
		/* A RESULT the owner would accept, but for the header's
		 * reserved top 16 bits. */
		struct rp_result_rec r = { .slot = slot, .result_len = full };
		unsigned char buf[sizeof(r) + sizeof(struct val)] = { 0 };

		memcpy(buf, &r, sizeof(r));
		forge_raw(&f, rp__ring_header(RP_REC_RESULT, sizeof(buf)) |
			  (uint64_t)1 << 48, buf, sizeof(buf),
			  rp__ring_record_size(sizeof(buf)));
		break;
	}
	case SC_WRAP_SHORT:
		/* A wrap marker 8 bytes short of the end (or, at position 0,
		 * one where no record could have failed to fit). */
		forge_raw(&f, rp__ring_header(RP_RING_KIND_WRAP,
					      (uint32_t)(to_end - 2 * RP_RING_HDR)),
			  NULL, 0, to_end);
		break;
	case SC_LEN_HUGE:
		forge_raw(&f, rp__ring_header(RP_REC_RESULT, UINT32_MAX), zero, 24,
			  64);
		break;
	case SC_LEN_PAST_MAX: {
		uint32_t len = RP_RING_MAX_PAYLOAD(l->cap) + 8;

		forge_raw(&f, rp__ring_header(RP_REC_RESULT, len), zero, 24,
			  rp__ring_record_size(len));
		break;
	}
	case SC_LEN_PAST_TAIL:
		/* 512 bytes claimed, 64 published. */
		forge_raw(&f, rp__ring_header(RP_REC_RESULT, 512), zero, 24, 64);
		break;
	case SC_LEN_PAST_END:
		/* The test moved the ring so that 64 bytes are left before the
		 * end: a 200-byte record there would cross it.  256 bytes are
		 * published, so only the end check can refuse it. */
		if (to_end != 64)
			return E_PLACE;
		forge_raw(&f, rp__ring_header(RP_REC_RESULT, 200), zero, 24, 256);
		break;
	case SC_SLOT_OUT_OF_RANGE:
		put_result(&f, RP_SLOTS, 0, full, 0, full);
		break;
	case SC_SLOT_ALL_ONES:
		put_result(&f, UINT32_MAX, 0, full, 0, full);
		break;
	case SC_SLOT_NEVER_SENT:
		/* Slots are handed out in order from 0: the far half of the
		 * table is never used by the few tasks of a case. */
		put_result(&f, slot ^ (RP_SLOTS / 2), 0, full, 0, full);
		break;
	case SC_SLOT_TWICE_PENDING:
		put_result(&f, slot, 0, full, 1, full);
		put_result(&f, slot, 0, full, 0, full);
		break;
	case SC_SLOT_TWICE_DONE:
		put_result(&f, slot, 0, full, 0, full);
		put_result(&f, slot, 0, full, 0, full);
		break;
	case SC_RLEN_LONG:
		put_result(&f, slot, 0, full + 8, 0, full + 8);
		break;
	case SC_RLEN_BODY:
		put_result(&f, slot, 0, full, 0, full / 2);
		break;
	case SC_RLEN_HUGE:
		put_result(&f, slot, 0, (uint64_t)1 << 62, 0, full);
		break;
	case SC_RREC_SHORT: {
		struct rp_result_rec r = { .slot = slot };

		forge_rec(&f, RP_REC_RESULT, &r, 12);
		break;
	}
	case SC_RESULT_CANCELED:
		put_result(&f, slot, RP_RESULT_CANCELED, 0, 0, 0);
		break;
	case SC_NFAIL_2:
		put_result(&f, slot, 0, full, 2, full);
		break;
	case SC_NFAIL_ALL_ONES:
		put_result(&f, slot, 0, full, UINT32_MAX, full);
		break;
	case SC_FAIL_MSG_MAX:
		put_result(&f, slot, 0, full, 1, full);
		put_fail(&f, slot, 0, 5, RP_ERROR_MESSAGE_MAX, RP_ERROR_MESSAGE_MAX);
		break;
	case SC_FAIL_MSG_HUGE:
		put_result(&f, slot, 0, full, 1, full);
		put_fail(&f, slot, 0, 5, UINT32_MAX, 8);
		break;
	case SC_FAIL_MSG_PAST_BODY:
		put_result(&f, slot, 0, full, 1, full);
		put_fail(&f, slot, 0, 5, 100, 4);
		break;
	case SC_FAIL_NO_RESULT:
		put_fail(&f, slot, 0, 5, 4, 4);
		break;
	case SC_FAIL_ITEM:
		put_result(&f, slot, 0, full, 1, full);
		put_fail(&f, slot, 1, 5, 4, 4);
		break;
	case SC_FAIL_CODE_0:
		put_result(&f, slot, 0, full, 1, full);
		put_fail(&f, slot, 0, 0, 4, 4);
		break;
	case SC_FRAG_OFFSET:
		put_frag(&f, slot, 8, 8);
		break;
	case SC_FRAG_OFFSET_HUGE:
		put_frag(&f, slot, (uint64_t)1 << 63, 8);
		break;
	case SC_FRAG_TOO_LONG:
		put_frag(&f, slot, 0, full + 8);
		break;
	case SC_FRAG_SHORT: {
		struct rp_frag_rec r = { .slot = slot };

		forge_rec(&f, RP_REC_FRAG, &r, 8);
		break;
	}
	case SC_FRAG_NEVER_SENT:
		put_frag(&f, slot ^ (RP_SLOTS / 2), 0, 8);
		break;
	case SC_BIG_MISMATCH:
		/* 8 of the 16 bytes came, the RESULT claims all 16. */
		put_frag(&f, slot, 0, 8);
		put_result(&f, slot, RP_RESULT_BIG, full, 0, 0);
		break;
	default:
		return 0;
	}
	if (f.tail != t0)
		publish_tail(l, f.tail);
	wait_to_be_killed();
}

/* ---- inside a worker: the scribbles that are not records ----------------- */

/* Crash fields the owner must bound, and a crash that keeps them. */
static void crash(const struct layout *l, enum scribble sc)
{
	struct rlimit no_core = { 0, 0 };
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	setrlimit(RLIMIT_CORE, &no_core);
	l->ctl->crash_frames = UINT32_MAX;
	for (unsigned i = 0; i < RP_CRASH_FRAMES; i++)
		l->ctl->crash_pc[i] = i ? 0xdead000000000000ull + i : UINT64_MAX;
	switch (sc) {
	case SC_CRASH_FORGED:
		/* Unhandled: the worker's own handler would overwrite them. */
		l->ctl->crash_signal = SIGILL;
		sigaction(SIGILL, &dfl, NULL);
		raise(SIGILL);
		break;
	case SC_CRASH_SIGKILL:
		l->ctl->crash_signal = SIGKILL;
		raise(SIGKILL);
		break;
	case SC_CRASH_MISMATCH:
		l->ctl->crash_signal = SIGILL;
		sigaction(SIGTRAP, &dfl, NULL);
		raise(SIGTRAP);
		break;
	default: /* SC_CRASH_HANDLED */
		l->ctl->crash_signal = 0;
		raise(SIGILL);
		break;
	}
	wait_to_be_killed();
}

/*
 * Every slot of ours the owner queued (tasks waiting behind S) is marked
 * RUNNING, CANCELED or garbage, every other slot garbage, S's own QUEUED
 * (as if it never started), and the magic and index are overwritten.
 * Returns how many queued slots were hit.
 */
static uint32_t scribble_ctl(const struct layout *l, uint32_t own)
{
	static const uint32_t lies[] = {
		RP_SLOT_RUNNING, RP_SLOT_CANCELED, 0xa5a5a5a5u,
	};
	uint32_t n = 0;

	for (uint32_t s = 0; s < RP_SLOTS; s++) {
		uint32_t st = atomic_load_explicit(&l->ctl->slot_state[s],
					      memory_order_seq_cst);
		uint32_t lie = st == RP_SLOT_QUEUED ? lies[n++ % 3] : 0x5a5a5a5au;

		if (s == own)
			lie = RP_SLOT_QUEUED;
		atomic_store_explicit(&l->ctl->slot_state[s], lie, memory_order_seq_cst);
	}
	l->ctl->magic = 0xdeadbeefu;
	l->ctl->index = UINT32_MAX;
	return n;
}

static void put_val(void *res, uint64_t x, rp_task_ctx_t *ctx)
{
	struct val v = { .v = val_of(x), .pid = getpid(),
			 .worker = rp_task_worker(ctx) };

	memcpy(res, &v, sizeof(v));
}

/* S: report, wait until the test holds a pidfd on us, then scribble. */
int scribble_task(const void *arg, size_t len, void *res, size_t cap,
		  rp_task_ctx_t *ctx)
{
	struct region r;
	struct layout l;
	struct sarg a;
	uint32_t slot;
	int rc;

	if (len != sizeof(a) || cap != sizeof(struct val))
		return E_ARG;
	memcpy(&a, arg, sizeof(a));
	if (find_layout(&r, &l) < 0 ||
	    own_slot(&l, arg, len, scribble_task, &slot) < 0)
		return E_REGION;
	set_word(&a.page->victim, (uint32_t)getpid());
	if (wait_word(&a.page->armed, 1) < 0)
		return E_GUARD;

	switch (a.sc) {
	case SC_CTL:
		if (wait_word(&a.page->go, 1) < 0)
			return E_GUARD;
		set_word(&a.page->nscribbled, scribble_ctl(&l, slot));
		break;
	case SC_CRASH_FORGED:
	case SC_CRASH_SIGKILL:
	case SC_CRASH_MISMATCH:
	case SC_CRASH_HANDLED:
		crash(&l, a.sc);
		break;
	case SC_MEMSET:
		memset(r.base, 0xff, r.size);
		break;
	case SC_MEMSET_GO:
		/* The same, once the tasks behind it are queued. */
		if (wait_word(&a.page->go, 1) < 0)
			return E_GUARD;
		memset(r.base, 0xff, r.size);
		break;
	case SC_TASK_TAIL:
		/* The owner writes this index and never reads it back; the
		 * worker reads it once its cache of it runs dry. */
		if (wait_word(&a.page->go, 1) < 0)
			return E_GUARD;
		atomic_store_explicit(&l.tasks->tail, 0x0123456789abcdefull,
				 memory_order_seq_cst);
		break;
	case SC_TASK_HEAD: {
		/* The owner reads this index when its cache says the ring is
		 * full.  Only until we return: the worker stores its own head
		 * over it as the task ends. */
		uint64_t h = atomic_load_explicit(&l.tasks->head, memory_order_seq_cst);

		atomic_store_explicit(&l.tasks->head, h + 4, memory_order_seq_cst);
		set_word(&a.page->scribbled, 1);
		if (wait_word(&a.page->go, 1) < 0)
			return E_GUARD;
		break;
	}
	default:
		if (wait_quiet(&l) < 0)
			return E_GUARD;
		rc = forge(&l, slot, a.sc);
		if (rc)
			return rc;
		break;
	}
	put_val(res, a.x, ctx);
	return 0;
}

/*
 * The chunk that scribbles its result ring's head (the owner's index):
 * item 0 waits for a quiet ring and moves the head 64 bytes past the tail
 * (or to an odd value); then every item fails with a 200-byte message.
 * 20 FAIL records take more than the ring, so the worker has to look at
 * the head before they are all written, and nothing of the chunk is
 * published before it does: the owner cannot repair the head first.
 */
int chunk_task(const void *arg, size_t len, void *res, size_t cap,
	       rp_task_ctx_t *ctx)
{
	static const char msg[] =
		"this item fails on purpose with a long message, so that its "
		"FAIL record is large enough for twenty of them to overflow "
		"a ring of four kilobytes and make the worker read the head "
		"index that its own task has scribbled on............";
	struct region r;
	struct layout l;
	struct sarg a;

	if (len != sizeof(a) || cap != sizeof(struct val))
		return E_ARG;
	memcpy(&a, arg, sizeof(a));
	if (rp_task_index(ctx) == 0) {
		uint64_t t;

		if (find_layout(&r, &l) < 0)
			return E_REGION;
		set_word(&a.page->victim, (uint32_t)getpid());
		if (wait_word(&a.page->armed, 1) < 0 || wait_quiet(&l) < 0)
			return E_GUARD;
		t = atomic_load_explicit(&l.results->tail, memory_order_seq_cst);
		atomic_store_explicit(&l.results->head,
				 a.sc == SC_HEAD_AHEAD ? t + 64 : t + 5,
				 memory_order_seq_cst);
	}
	return rp_task_fail(ctx, E_TASKFAIL, "%s", msg);
}

/* ---- inside a worker: the ordinary tasks ------------------------------------ */

/* x is the argument's first 8 bytes; a big argument is all x's bytes. */
int value_task(const void *arg, size_t len, void *res, size_t cap,
	       rp_task_ctx_t *ctx)
{
	const unsigned char *p = arg;
	uint64_t x;

	if ((len != sizeof(x) && len != BIG_ARG) || cap != sizeof(struct val))
		return E_ARG;
	for (size_t i = sizeof(x); i < len; i++)
		if (p[i] != (unsigned char)i)
			return E_ARG;
	memcpy(&x, arg, sizeof(x));
	put_val(res, x, ctx);
	return 0;
}


/* G: reports its pid, holds its worker until the test opens the gate. */
int gate_task(const void *arg, size_t len, void *res, size_t cap,
	      rp_task_ctx_t *ctx)
{
	struct garg a;

	if (len != sizeof(a) || cap != sizeof(struct val))
		return E_ARG;
	memcpy(&a, arg, sizeof(a));
	set_word(&a.page->gate_pid, (uint32_t)getpid());
	if (wait_word(&a.page->gate_open, 1) < 0)
		return E_GUARD;
	put_val(res, a.x, ctx);
	return 0;
}

/* Returns only once two tasks run at the same time: two live workers. */
int barrier_task(const void *arg, size_t len, void *res, size_t cap,
		 rp_task_ctx_t *ctx)
{
	struct garg a;

	if (len != sizeof(a) || cap != sizeof(struct val))
		return E_ARG;
	memcpy(&a, arg, sizeof(a));
	atomic_fetch_add(&a.page->barrier, 1);
	futex_wake_all(&a.page->barrier);
	if (wait_word(&a.page->barrier, 2) < 0)
		return E_GUARD;
	put_val(res, a.x, ctx);
	return 0;
}

/*
 * Moves the result ring towards position RING_BYTES - 64: its own result
 * shrinks (rp_task_set_result_len) so that the next record starts there,
 * or takes all its room when that is too far.  Reports the distance left.
 */
int pad_task(const void *arg, size_t len, void *res, size_t cap,
	     rp_task_ctx_t *ctx)
{
	const uint64_t target = RING_BYTES - 64;
	const uint64_t overhead = RP_RING_HDR + sizeof(struct rp_result_rec);
	struct page *page;
	struct region r;
	struct layout l;
	uint64_t pos, d;

	if (len != sizeof(page) || cap != PAD_CAP)
		return E_ARG;
	memcpy(&page, arg, sizeof(page));
	if (find_layout(&r, &l) < 0)
		return E_REGION;
	/* Our result room is in place in our RESULT record's reservation. */
	pos = (uint64_t)((unsigned char *)res - overhead - l.rdata);
	if (pos >= l.cap)
		return E_REGION;
	d = (target - pos) & (l.cap - 1);
	if (d >= overhead && d - overhead <= PAD_CAP) {
		rp_task_set_result_len(ctx, d - overhead);
		d = 0;
	} else {
		d = 1;
	}
	set_word(&page->pad_left, (uint32_t)d);
	return 0;
}



int maps_task(const void *arg, size_t len, void *res, size_t cap,
	      rp_task_ctx_t *ctx)
{
	struct mrep m = { .pid = getpid() };
	struct region r;
	struct layout l;
	struct marg a;

	if (len != sizeof(a) || cap != sizeof(m))
		return E_ARG;
	memcpy(&a, arg, sizeof(a));
	find_region(&r);
	m.lines = r.lines;
	m.inodes = r.inodes;
	m.base = (uint64_t)(uintptr_t)r.base;
	if (r.inodes == 1 && layout_of(&r, &l) == 0) {
		m.layout_ok = 1;
		m.index_ok = l.ctl->index == (uint32_t)rp_task_worker(ctx);
		m.in_region = (const unsigned char *)arg >= r.base &&
			      (const unsigned char *)arg < r.base + r.size &&
			      (unsigned char *)res >= r.base &&
			      (unsigned char *)res < r.base + r.size;
	}
	for (int i = 0; i < 2; i++)
		m.mapped[i] = a.ask[i] && is_mapped(a.ask[i]);
	if (a.meet) {
		atomic_fetch_add(&a.page->barrier, 1);
		futex_wake_all(&a.page->barrier);
		if (wait_word(&a.page->barrier, 2) < 0)
			return E_GUARD;
	}
	memcpy(res, &m, sizeof(m));
	return 0;
}

