/* SPDX-License-Identifier: MIT */
/*
 * A hostile task scribbles on its own worker's shared memory, and the owner
 * survives it (ARCHITECTURE.md, "Shared memory is untrusted input").  This
 * file is the test's side; the tasks are in scribble_worker.c, what both
 * share in scribble.h.
 *
 * Each case runs on a fresh pool of two workers with 4 KiB rings.  A gate
 * task G holds one worker (B) for the whole case, so the scribbling task S
 * and everything submitted one at a time before it run on the other (A,
 * the victim): dispatch sends a chunk to the least-loaded worker.  S finds
 * its region the way any task could, through /proc/self/maps (the memfd is
 * named "rp-worker"), reads the layout from lib/proto.h and lib/ring.h, and
 * damages it; "forged" records are written with raw pointer math at the
 * result ring's tail and published by storing the tail, as the worker's own
 * producer would.  Tasks T submitted while S runs land on both workers.
 *
 * What every case then proves:
 * - no hang: every wait is bounded (GUARD_NS) and a timeout fails the case;
 * - S completes with the code the design gives that damage: RP_ECORRUPT
 *   when the owner read an invalid record or index (drain.c marks the
 *   worker corrupt and kills it; its death fails what it held with that
 *   code), RP_EWORKER_DIED when the worker died of the damage itself (its
 *   own ring made no sense to it: exit RP_WORKER_EXIT_PROTOCOL, or a
 *   signal), success where the damage was harmless or repaired before
 *   anyone read it; each case says which and why;
 * - G, on the other worker during the damage, completes with its value;
 *   every T completes with its value, or fails on the victim only, with a
 *   code the case allows (chunks the victim never started run elsewhere:
 *   workers.c, requeue);
 * - the victim dies (a pidfd taken while S ran becomes readable), the pool
 *   keeps two workers (two tasks meet at a barrier, neither on the
 *   victim) and keeps working (rp_map of 1000 items);
 * - no child, fd or shared mapping leaks (leak.h), per cmocka test.
 *
 * Tasks never assert: they report through their result, their failure
 * code (the E_* below for their own problems) and a shared page.
 */
#include "scribble.h"

/* ---- the test's side ----------------------------------------------------- */

enum mode {
	M_FORGE,  /* T tasks go in while S runs; S waits to be killed */
	M_GO,     /* T tasks go in, then S is let go (page->go) */
	M_FLOOD,  /* S scribbles, NFLOOD T tasks go in, then S is let go */
	M_BIG,    /* S scribbles, NBIG big T tasks go in, then S is let go */
	M_ALONE,  /* nothing goes in until S is over and its worker gone */
};

/* Outcomes, as a set. */
#define OK 1u
#define CORRUPT 2u
#define DIED 4u

struct spec {
	const char *what;
	enum scribble sc;
	enum mode mode;
	unsigned s_ok;        /* what S may end with */
	unsigned t_ok;        /* what a T may fail with (on the victim) */
	bool forged_value;    /* S succeeds with the forged value */
	bool position;        /* move the result ring first */
	bool chunk;           /* S is a map chunk of CHUNK_N items */
	bool exact_corrupt;   /* T failures == the slots S scribbled */
	int exit_status;      /* DIED outcomes: this exit status, if not 0 */
	void (*check)(const struct rp_error *e);
};

/* Everything a case holds, so that a failed case still frees it all. */
static struct {
	struct page *page;
	rp_pool_t *pool;
	rp_result_t *gate, *s, *meet[2], *map;
	rp_result_t *t[NFLOOD];
	int victim_fd;
} cur = { .victim_fd = -1 };

static void case_cleanup(void)
{
	rp_result_free(cur.gate);
	rp_result_free(cur.s);
	rp_result_free(cur.map);
	for (int i = 0; i < 2; i++)
		rp_result_free(cur.meet[i]);
	for (int i = 0; i < NFLOOD; i++)
		rp_result_free(cur.t[i]);
	rp_pool_destroy(cur.pool);
	if (cur.victim_fd >= 0)
		close(cur.victim_fd);
	if (cur.page)
		munmap(cur.page, 4096);
	memset(&cur, 0, sizeof(cur));
	cur.victim_fd = -1;
}

static int setup(void **state)
{
	memset(&cur, 0, sizeof(cur));
	cur.victim_fd = -1;
	return leak_setup(state);
}

static int teardown(void **state)
{
	case_cleanup();
	return leak_teardown(state);
}

static void new_case(void)
{
	struct rp_pool_opts o = { .nworkers = 2, .ring_bytes = RING_BYTES,
				  .no_pinning = true };
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	cur.page = p;
	assert_int_equal(rp_pool_create(&o, &cur.pool), 0);
}

static void wait_page(_Atomic uint32_t *w, uint32_t min, const char *what)
{
	if (wait_word(w, min) < 0)
		fail_msg("hang: %s never happened within %d s", what, GUARD_S);
}

/* The outcome of res within the guard (a timeout is a hang: fail). */
static int outcome(rp_result_t *res, const char *what, const void **ret_data)
{
	const void *data = NULL;
	int rc;

	if (rp_result_wait(res, GUARD_NS) == -ETIMEDOUT)
		fail_msg("hang: %s did not complete within %d s", what, GUARD_S);
	rc = rp_result_get(res, 0, &data, NULL);
	if (ret_data)
		*ret_data = data;
	return rc;
}

static unsigned bit_of(int rc)
{
	return rc == 0 ? OK : rc == RP_ECORRUPT ? CORRUPT :
	       rc == RP_EWORKER_DIED ? DIED : 0;
}

static const char *describe(rp_result_t *res, int rc)
{
	static char buf[512];
	const struct rp_error *e = rp_result_error(res);

	snprintf(buf, sizeof(buf), "%s (%d), task code %d: %s", rp_err_name(rc),
		 rc, e ? e->task_code : 0, e ? e->message : "");
	return buf;
}

static rp_result_t *submit_value(uint64_t x)
{
	rp_result_t *r = NULL;

	assert_int_equal(rp_apply_async(cur.pool, value_task, &x, sizeof(x),
					sizeof(struct val), NULL, &r),
			 0);
	return r;
}

/* A T task whose argument (BIG_ARG bytes) travels in FRAG records. */
static rp_result_t *submit_big(uint64_t x)
{
	static unsigned char arg[BIG_ARG];
	rp_result_t *r = NULL;

	for (size_t i = 0; i < sizeof(arg); i++)
		arg[i] = (unsigned char)i;
	memcpy(arg, &x, sizeof(x));
	assert_int_equal(rp_apply_async(cur.pool, value_task, arg, sizeof(arg),
					sizeof(struct val), NULL, &r),
			 0);
	return r;
}

static void assert_value(rp_result_t *res, uint64_t x, const char *what)
{
	const struct val *v;
	int rc = outcome(res, what, (const void **)&v);

	if (rc != 0)
		fail_msg("%s failed: %s", what, describe(res, rc));
	assert_int_equal(v->v, val_of(x));
}

/* Runs the pad task until the result ring's next record starts 64 bytes
 * before its end (a few rounds: each moves it at most PAD_CAP bytes). */
static void position_ring(void)
{
	for (int round = 0; round < 8; round++) {
		rp_result_t *r = NULL;
		int rc;

		assert_int_equal(rp_apply_async(cur.pool, pad_task, &cur.page,
						sizeof(cur.page), PAD_CAP, NULL,
						&r),
				 0);
		rc = outcome(r, "a pad task", NULL);
		rp_result_free(r);
		if (rc != 0)
			fail_msg("pad task: %s (%d)", rp_err_name(rc), rc);
		if (atomic_load(&cur.page->pad_left) == 0)
			return;
	}
	fail_msg("the result ring could not be moved into place");
}

static void submit_s(const struct spec *sp)
{
	struct sarg a = { .page = cur.page, .sc = sp->sc, .x = 77 };

	if (sp->chunk) {
		struct sarg items[CHUNK_N];

		for (int i = 0; i < CHUNK_N; i++)
			items[i] = a;
		assert_int_equal(rp_map_async(cur.pool, chunk_task, items, CHUNK_N,
					      sizeof(a), sizeof(struct val),
					      CHUNK_N, NULL, &cur.s),
				 0);
		return;
	}
	assert_int_equal(rp_apply_async(cur.pool, scribble_task, &a, sizeof(a),
					sizeof(struct val), NULL, &cur.s),
			 0);
}

/* S's worker: a pidfd while it surely runs (S waits for armed). */
static pid_t arm_victim(void)
{
	pid_t victim;

	wait_page(&cur.page->victim, 1, "the scribbling task's start");
	victim = (pid_t)atomic_load(&cur.page->victim);
	cur.victim_fd = (int)syscall(SYS_pidfd_open, victim, 0);
	if (cur.victim_fd < 0) {
		print_message("# skip: pidfd_open: %s\n", strerror(errno));
		skip();
	}
	set_word(&cur.page->armed, 1);
	return victim;
}

static void check_s(const struct spec *sp, pid_t victim)
{
	const struct val *v = NULL;
	const struct rp_error *e;
	int rc = outcome(cur.s, sp->what, (const void **)&v);

	print_message("#   the scribbling task: %s\n",
		      rc ? describe(cur.s, rc) : "success");
	if (!(bit_of(rc) & sp->s_ok))
		fail_msg("%s: the scribbling task ended with %s", sp->what,
			 describe(cur.s, rc));
	if (rc == 0) {
		if (sp->chunk)
			fail_msg("%s: the chunk succeeded", sp->what);
		assert_int_equal(v->v, sp->forged_value ? FORGED_VALUE :
							  val_of(77));
		return;
	}
	e = rp_result_error(cur.s);
	assert_non_null(e);
	assert_int_equal(e->code, rc);
	assert_int_equal(e->worker_pid, victim);
	assert_non_null(memchr(e->message, '\0', sizeof(e->message)));
	if (rc == RP_EWORKER_DIED && sp->exit_status) {
		assert_int_equal(e->signal, 0);
		assert_int_equal(e->exit_status, sp->exit_status);
	}
	if (sp->check)
		sp->check(e);
}

/* Every T: its value, or an allowed failure on the victim. */
static void check_ts(const struct spec *sp, int n, pid_t victim)
{
	unsigned corrupt = 0;

	for (int i = 0; i < n; i++) {
		const struct val *v = NULL;
		const struct rp_error *e;
		int rc = outcome(cur.t[i], "a task queued with the scribbler",
				 (const void **)&v);

		if (rc == 0) {
			assert_int_equal(v->v, val_of(1000 + (uint64_t)i));
			continue;
		}
		e = rp_result_error(cur.t[i]);
		if (!(bit_of(rc) & sp->t_ok) || !e || e->worker_pid != victim)
			fail_msg("%s: task %d failed with %s (worker %d, victim "
				 "%d)", sp->what, i, describe(cur.t[i], rc),
				 e ? (int)e->worker_pid : 0, (int)victim);
		if (rc == RP_EWORKER_DIED && sp->exit_status)
			assert_int_equal(e->exit_status, sp->exit_status);
		corrupt += rc == RP_ECORRUPT;
	}
	if (sp->exact_corrupt) {
		assert_true(atomic_load(&cur.page->nscribbled) >= 1);
		assert_int_equal(corrupt, atomic_load(&cur.page->nscribbled));
	}
}

/*
 * The victim has exited and the owner has reaped it.  The owner reaps in
 * rp__worker_replace with submit_lock held until the replacement runs, so
 * from then on no submit can reach the dead worker: a task sent to it
 * between its exit and the owner noticing is read back from its task ring
 * only if that ring is still intact.  The reap itself has no event of its
 * own to wait on; it follows the exit within the loop thread's reaction
 * time, and waitid(WNOWAIT) looks without reaping.
 */
static void wait_victim_gone(const struct spec *sp)
{
	struct pollfd p = { .fd = cur.victim_fd, .events = POLLIN };
	int64_t end = now_ns() + GUARD_NS;
	siginfo_t si;

	if (poll(&p, 1, GUARD_S * 1000) != 1)
		fail_msg("%s: the damaged worker is still alive after %d s: "
			 "the owner neither noticed nor replaced it", sp->what,
			 GUARD_S);
	while (waitid(P_PIDFD, (id_t)cur.victim_fd, &si,
		      WEXITED | WNOHANG | WNOWAIT) == 0) {
		if (now_ns() > end)
			fail_msg("%s: the dead worker was not reaped within %d s",
				 sp->what, GUARD_S);
		sched_yield();
	}
	assert_int_equal(errno, ECHILD);
}

/* Two tasks at once on two workers, neither the victim: the pool has
 * its two workers again. */
static void assert_two_workers(pid_t victim)
{
	pid_t pids[2];

	atomic_store(&cur.page->barrier, 0);
	for (int i = 0; i < 2; i++) {
		struct garg a = { .page = cur.page, .x = 500 + (uint64_t)i };

		assert_int_equal(rp_apply_async(cur.pool, barrier_task, &a,
						sizeof(a), sizeof(struct val),
						NULL, &cur.meet[i]),
				 0);
	}
	for (int i = 0; i < 2; i++) {
		const struct val *v;
		int rc = outcome(cur.meet[i], "a barrier task", (const void **)&v);

		if (rc != 0)
			fail_msg("barrier task: %s", describe(cur.meet[i], rc));
		assert_int_equal(v->v, val_of(500 + (uint64_t)i));
		pids[i] = v->pid;
		assert_int_not_equal(v->pid, victim);
	}
	assert_int_not_equal(pids[0], pids[1]);
}

/* The pool keeps working: rp_map of MAP_N items, none on the victim. */
static void assert_map_works(pid_t victim)
{
	static uint64_t items[MAP_N];
	const struct val *out;
	int rc;

	for (int i = 0; i < MAP_N; i++)
		items[i] = 2000 + (uint64_t)i;
	assert_int_equal(rp_map_async(cur.pool, value_task, items, MAP_N,
				      sizeof(items[0]), sizeof(struct val),
				      RP_CHUNKSIZE_AUTO, NULL, &cur.map),
			 0);
	rc = outcome(cur.map, "the follow-up map", (const void **)&out);
	if (rc != 0)
		fail_msg("follow-up map: %s", describe(cur.map, rc));
	for (int i = 0; i < MAP_N; i++) {
		assert_int_equal(out[i].v, val_of(items[i]));
		assert_int_not_equal(out[i].pid, victim);
	}
}

static void run_case(const struct spec *sp)
{
	struct garg g = { .page = NULL, .x = 42 };
	pid_t gate_pid, victim;
	int nt = 0;

	print_message("# %s\n", sp->what);
	new_case();
	g.page = cur.page;

	/* G holds one worker: from here on, one task at a time runs on the
	 * other, the victim to be. */
	assert_int_equal(rp_apply_async(cur.pool, gate_task, &g, sizeof(g),
					sizeof(struct val), NULL, &cur.gate),
			 0);
	wait_page(&cur.page->gate_pid, 1, "the gate task's start");
	gate_pid = (pid_t)atomic_load(&cur.page->gate_pid);
	for (uint64_t x = 0; x < (sp->mode == M_BIG ? NBEFORE_BIG : NBEFORE);
	     x++) {
		rp_result_t *r = submit_value(x);

		assert_value(r, x, "a task before the scribble");
		rp_result_free(r);
	}
	if (sp->position)
		position_ring();

	submit_s(sp);
	victim = arm_victim();
	assert_int_not_equal(victim, gate_pid);
	switch (sp->mode) {
	case M_FLOOD:
		wait_page(&cur.page->scribbled, 1, "the scribble");
		nt = NFLOOD;
		break;
	case M_BIG:
		wait_page(&cur.page->scribbled, 1, "the scribble");
		nt = NBIG;
		break;
	case M_ALONE:
		break;
	default:
		nt = NTASKS;
		break;
	}
	for (int i = 0; i < nt; i++)
		cur.t[i] = sp->mode == M_BIG ? submit_big(1000 + (uint64_t)i) :
					       submit_value(1000 + (uint64_t)i);
	set_word(&cur.page->go, 1);

	check_s(sp, victim);
	if (sp->mode == M_ALONE) {
		/* Only now: a task record the owner publishes would have
		 * repaired the task ring's tail before the worker read it. */
		wait_victim_gone(sp);
		nt = NTASKS;
		for (int i = 0; i < nt; i++)
			cur.t[i] = submit_value(1000 + (uint64_t)i);
	}

	set_word(&cur.page->gate_open, 1);
	{
		const struct val *v;
		int rc = outcome(cur.gate, "the gate task", (const void **)&v);

		if (rc != 0)
			fail_msg("the gate task, on the other worker, failed: %s",
				 describe(cur.gate, rc));
		assert_int_equal(v->v, val_of(42));
		assert_int_equal(v->pid, gate_pid);
	}
	check_ts(sp, nt, victim);
	wait_victim_gone(sp);

	assert_int_equal(rp_pool_size(cur.pool), 2);
	assert_two_workers(victim);
	assert_map_works(victim);
	case_cleanup();
}

static void run_specs(const struct spec *sp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_case(&sp[i]);
}

#define RUN(specs) run_specs(specs, sizeof(specs) / sizeof(specs[0]))

/*
 * A forged record or index the owner reads: drain.c (or the ring layer
 * under it) refuses it, marks the worker corrupt and kills it, and the
 * chunk it held (S) fails with RP_ECORRUPT.  Queued chunks never started
 * run elsewhere (the task ring is intact), so every T succeeds.
 */
#define FORGED(name, sc_) { name, sc_, M_FORGE, CORRUPT, 0, false, false, \
			    false, false, 0, NULL }

/* ---- the cases ------------------------------------------------------------ */

/* The result ring's tail is the worker's to write; the owner checks it is
 * 8-aligned, not behind its head and at most a capacity ahead, or that
 * what it then covers parses (ring.c, refresh_tail). */
static void result_tail_ahead(void **state)
{
	static const struct spec s[] = {
		FORGED("result tail 64 capacities ahead", SC_TAIL_FAR_AHEAD),
		FORGED("result tail a capacity and 8 ahead", SC_TAIL_CAP_PLUS_8),
		/* Within range: the owner then reads a capacity of stale or
		 * never-written bytes as records; none is a valid one. */
		FORGED("result tail exactly a capacity ahead (replay)",
		       SC_TAIL_REPLAY),
	};

	RUN(s);
}

static void result_tail_backwards(void **state)
{
	static const struct spec s[] = {
		FORGED("result tail 8 bytes behind the head", SC_TAIL_BACK_8),
		FORGED("result tail back to 0", SC_TAIL_ZERO),
	};

	RUN(s);
}

static void result_tail_garbage(void **state)
{
	static const struct spec s[] = {
		FORGED("result tail 0x0123456789abcdef", SC_TAIL_ODD),
		FORGED("result tail 4 bytes ahead", SC_TAIL_PLUS_4),
		FORGED("result tail all ones", SC_TAIL_ALL_ONES),
	};

	RUN(s);
}

static void check_exit_protocol(const struct rp_error *e)
{
	assert_int_equal(e->exit_status, RP_WORKER_EXIT_PROTOCOL);
}

/*
 * The result ring's head is the owner's index; the owner never reads it
 * back (its own copy is private) and stores over it on its next release.
 * The worker's producer reads it when the ring looks full: the lie fails
 * its check (ring.c, refresh_head) and the worker exits with
 * RP_WORKER_EXIT_PROTOCOL, so the chunk fails with RP_EWORKER_DIED.
 */
static void result_head_by_worker(void **state)
{
	static const struct spec s[] = {
		{ "result head 64 bytes past the tail", SC_HEAD_AHEAD, M_FORGE,
		  DIED, 0, false, false, true, false, RP_WORKER_EXIT_PROTOCOL,
		  check_exit_protocol },
		{ "result head odd", SC_HEAD_ODD, M_FORGE, DIED, 0, false, false,
		  true, false, RP_WORKER_EXIT_PROTOCOL, check_exit_protocol },
	};

	RUN(s);
}

/* Kinds: the ring layer takes 1 .. RP_REC_KIND_MAX and its wrap marker;
 * drain.c takes RESULT, FAIL, FRAG and one INIT. */
static void record_bad_kind(void **state)
{
	static const struct spec s[] = {
		FORGED("record of kind 0", SC_KIND_ZERO),
		FORGED("record of kind RP_REC_KIND_MAX + 1", SC_KIND_PAST_MAX),
		FORGED("record of kind RP_RING_KIND_MAX", SC_KIND_USER_MAX),
		FORGED("TASK record in the result ring", SC_KIND_TASK),
		FORGED("EXIT record in the result ring", SC_KIND_EXIT),
		FORGED("a second INIT record", SC_KIND_INIT_AGAIN),
		FORGED("valid RESULT with the header's zero bits set",
		       SC_HDR_HIGH_BITS),
		FORGED("wrap marker of the wrong length", SC_WRAP_SHORT),
	};

	RUN(s);
}

static void record_huge_length(void **state)
{
	static const struct spec s[] = {
		FORGED("record length 0xffffffff", SC_LEN_HUGE),
		FORGED("record length RP_RING_MAX_PAYLOAD + 8", SC_LEN_PAST_MAX),
	};

	RUN(s);
}

static void record_length_past_end(void **state)
{
	static const struct spec s[] = {
		FORGED("record longer than what was published", SC_LEN_PAST_TAIL),
		{ "record across the end of the data area", SC_LEN_PAST_END,
		  M_FORGE, CORRUPT, 0, false, true, false, false, 0, NULL },
	};

	RUN(s);
}

/* RESULT records are checked against the owner's own record of the slot
 * (drain.c, on_result). */
static void result_unknown_slot(void **state)
{
	static const struct spec s[] = {
		FORGED("RESULT for slot RP_SLOTS", SC_SLOT_OUT_OF_RANGE),
		FORGED("RESULT for slot 0xffffffff", SC_SLOT_ALL_ONES),
		FORGED("RESULT for a slot never sent", SC_SLOT_NEVER_SENT),
	};

	RUN(s);
}

/*
 * A slot reported twice.  While the first RESULT still waits for its FAIL
 * record the chunk is open, and the second RESULT fails it.  A first
 * RESULT that is complete and well-formed is indistinguishable from the
 * truth (the owner cannot know what the task computed): the chunk
 * completes with the forged value, and the second RESULT, for a slot no
 * longer out, gets the worker killed and replaced.
 */
static void result_slot_twice(void **state)
{
	static const struct spec s[] = {
		FORGED("RESULT twice, the first awaiting a FAIL",
		       SC_SLOT_TWICE_PENDING),
		{ "RESULT twice, both complete", SC_SLOT_TWICE_DONE, M_FORGE, OK,
		  0, true, false, false, false, 0, NULL },
	};

	RUN(s);
}

static void result_wrong_length(void **state)
{
	static const struct spec s[] = {
		FORGED("RESULT longer than the result room", SC_RLEN_LONG),
		FORGED("RESULT length unlike its body", SC_RLEN_BODY),
		FORGED("RESULT length 2^62", SC_RLEN_HUGE),
		FORGED("RESULT record shorter than its header", SC_RREC_SHORT),
		FORGED("RESULT 'cancelled' for a chunk never cancelled",
		       SC_RESULT_CANCELED),
	};

	RUN(s);
}

static void result_nfail_too_large(void **state)
{
	static const struct spec s[] = {
		FORGED("RESULT with nfail 2 for one item", SC_NFAIL_2),
		FORGED("RESULT with nfail 0xffffffff", SC_NFAIL_ALL_ONES),
	};

	RUN(s);
}

/* FAIL records: drain.c, on_fail. */
static void fail_bad_record(void **state)
{
	static const struct spec s[] = {
		FORGED("FAIL with msg_len RP_ERROR_MESSAGE_MAX", SC_FAIL_MSG_MAX),
		FORGED("FAIL with msg_len 0xffffffff", SC_FAIL_MSG_HUGE),
		FORGED("FAIL with msg_len past its record", SC_FAIL_MSG_PAST_BODY),
		FORGED("FAIL before any RESULT", SC_FAIL_NO_RESULT),
		FORGED("FAIL for item 1 of 1", SC_FAIL_ITEM),
		FORGED("FAIL with code 0", SC_FAIL_CODE_0),
	};

	RUN(s);
}

/* FRAG records: drain.c, on_frag, and the RESULT that closes them. */
static void frag_bad_record(void **state)
{
	static const struct spec s[] = {
		FORGED("FRAG at offset 8 first", SC_FRAG_OFFSET),
		FORGED("FRAG at offset 2^63", SC_FRAG_OFFSET_HUGE),
		FORGED("FRAG longer than the result room", SC_FRAG_TOO_LONG),
		FORGED("FRAG record shorter than its header", SC_FRAG_SHORT),
		FORGED("FRAG for a slot never sent", SC_FRAG_NEVER_SENT),
		FORGED("big RESULT claiming bytes no FRAG brought",
		       SC_BIG_MISMATCH),
	};

	RUN(s);
}

/*
 * The control block: magic and index are written once and never read
 * back; slot_state is where the worker's start and the owner's cancel
 * meet.  S returns normally and its result comes first.  Each task queued
 * behind it whose slot no longer says QUEUED cannot start (the worker's
 * CAS fails) and comes back "cancelled", which the owner never asked for:
 * the worker is corrupt, killed, and those chunks fail with RP_ECORRUPT
 * (not requeued: their slots no longer say they never started).  Exactly
 * the slots S hit fail; T tasks on the other worker succeed.
 */
static void ctl_magic_and_slot_state(void **state)
{
	static const struct spec s[] = {
		{ "control block: magic, index and every slot_state",
		  SC_CTL, M_GO, OK, CORRUPT, false, false, false, true, 0, NULL },
	};

	RUN(s);
}

static void check_forged_crash(const struct rp_error *e)
{
	assert_int_equal(e->signal, SIGILL);
	assert_true(e->backtrace_len <= RP_BACKTRACE_MAX);
}

/* ringpool.h: a backtrace only for a crash signal, "0 frames otherwise". */
static void check_sigkill(const struct rp_error *e)
{
	assert_int_equal(e->signal, SIGKILL);
	if (e->backtrace_len != 0)
		fail_msg("SIGKILL is no crash, yet the owner reported %u frames "
			 "that the task forged in the control block",
			 e->backtrace_len);
}

static void check_mismatch(const struct rp_error *e)
{
	assert_int_equal(e->signal, SIGTRAP);
	assert_int_equal(e->backtrace_len, 0);
}

static void check_handled(const struct rp_error *e)
{
	assert_int_equal(e->signal, SIGILL);
	assert_true(e->backtrace_len >= 1 &&
		    e->backtrace_len <= RP_BACKTRACE_MAX);
}

/*
 * Crash fields are read once the worker is dead, as numbers only: the
 * frame count is bounded, the addresses are only looked up, and frames
 * come only for the crash signal that really killed it.  The worker died
 * of a signal: RP_EWORKER_DIED.  T tasks were queued: they run elsewhere.
 */
static void crash_fields_garbage(void **state)
{
	static const struct spec s[] = {
		{ "crash_frames 0xffffffff, crash_pc garbage, then SIGILL",
		  SC_CRASH_FORGED, M_FORGE, DIED, 0, false, false, false, false, 0,
		  check_forged_crash },
		{ "crash fields claiming SIGILL, then SIGTRAP", SC_CRASH_MISMATCH,
		  M_FORGE, DIED, 0, false, false, false, false, 0, check_mismatch },
		{ "crash fields garbage, then a crash the handler reports",
		  SC_CRASH_HANDLED, M_FORGE, DIED, 0, false, false, false, false, 0,
		  check_handled },
	};

	RUN(s);
}

/* The forged fields claim the signal that really killed the worker, but
 * SIGKILL is no crash: no frames (ringpool.h, struct rp_error). */
static void crash_fields_claim_sigkill(void **state)
{
	static const struct spec s[] = {
		{ "crash fields claiming SIGKILL, then SIGKILL", SC_CRASH_SIGKILL,
		  M_FORGE, DIED, 0, false, false, false, false, 0, check_sigkill },
	};

	RUN(s);
}

/*
 * Every byte of the region is 0xff, then S returns.  S's own RESULT is
 * written after it returns, and the worker then stores valid indices of
 * its own (task head, result tail) and publishes it: the owner takes it
 * (S succeeds) unless it read the result ring during the damage (tail all
 * ones: RP_ECORRUPT).  The worker next reads the task ring's tail, all
 * ones, and exits with RP_WORKER_EXIT_PROTOCOL, unless the owner killed it
 * first; nothing is submitted meanwhile, since a task record published by
 * the owner would repair that tail.
 */
static void region_memset_ff(void **state)
{
	static const struct spec s[] = {
		{ "whole region memset to 0xff", SC_MEMSET, M_ALONE,
		  OK | CORRUPT, 0, false, false, false, false, 0, NULL },
	};

	RUN(s);
}

/*
 * The same with tasks queued behind S on the victim.  Their records went
 * with the region: whether the owner reads the damage first (RP_ECORRUPT)
 * or the worker dies of it (RP_WORKER_EXIT_PROTOCOL, or a signal), the
 * owner cannot read them back (workers.c, requeue), and they fail as
 * victims of the corruption, RP_ECORRUPT, never as an ordinary death.
 */
static void region_memset_ff_queued(void **state)
{
	static const struct spec s[] = {
		{ "whole region memset to 0xff, tasks queued behind",
		  SC_MEMSET_GO, M_GO, OK | CORRUPT, CORRUPT, false, false,
		  false, false, 0, NULL },
	};

	RUN(s);
}

/*
 * The task ring's tail, written by the owner, read by the worker: S makes
 * it odd once the T tasks are queued (so no later publication repairs
 * it) and returns; its result is published before the worker looks at
 * the tail again.  The worker runs the queued records it had already
 * seen, then refreshes the tail, finds it invalid and exits with
 * RP_WORKER_EXIT_PROTOCOL.  The owner cannot read the chunks it held back
 * from a ring whose tail is invalid: they fail as victims of the
 * corruption, RP_ECORRUPT (workers.c, corrupt_victims).
 */
static void task_tail_scribbled(void **state)
{
	static const struct spec s[] = {
		{ "task ring tail odd", SC_TASK_TAIL, M_GO, OK, CORRUPT, false,
		  false, false, false, RP_WORKER_EXIT_PROTOCOL, NULL },
	};

	RUN(s);
}

/*
 * The task ring's head, written by the worker, read by the owner when its
 * cache says the ring is full.  S makes it odd and holds while the test
 * submits tasks the owner cannot place without reading it; S then returns
 * (the worker's own release repairs the head).  The owner's producer
 * refuses the odd head (ring.c, refresh_head; the error is sticky): the
 * design kills and replaces a worker whose shared memory failed
 * validation, so S may fail with RP_ECORRUPT if that kill comes first, the
 * victim's queued chunks with RP_ECORRUPT or RP_EWORKER_DIED, and the
 * victim must end.
 */
static void task_head_scribbled(void **state)
{
	static const struct spec s[] = {
		{ "task ring head odd while the owner fills the ring",
		  SC_TASK_HEAD, M_FLOOD, OK | CORRUPT, CORRUPT | DIED, false,
		  false, false, false, 0, NULL },
	};

	RUN(s);
}

/*
 * The same while the owner writes a payload too big for one record: 24
 * tasks before S used 1.5 KiB of the victim's task ring since the owner
 * last read the head, so the second FRAG piece of a 3000-byte payload does
 * not fit the owner's cached view and it reads the head between pieces.
 * Of two big tasks submitted with both workers equally loaded, one lands
 * on each (the one on the gated worker fits its idle ring: no wait).  The
 * one on the victim must complete: fail with the victim's death (a
 * payload that big is not kept for a retry), not wait forever for pieces
 * that never come.
 */
static void task_head_scribbled_big(void **state)
{
	static const struct spec s[] = {
		{ "task ring head odd while the owner writes a big payload",
		  SC_TASK_HEAD, M_BIG, OK | CORRUPT, CORRUPT | DIED, false,
		  false, false, false, 0, NULL },
	};

	RUN(s);
}

/*
 * One worker cannot write into another's rings: each sees exactly one
 * rp-worker memfd, its own (its index in the control block, its task's
 * argument and result inside it), and the other worker's region address
 * is not mapped in it at all.
 */
static void run_maps_pair(const uint64_t ask[2], struct mrep out[2])
{
	atomic_store(&cur.page->barrier, 0);
	for (int i = 0; i < 2; i++) {
		struct marg a = { .page = cur.page, .meet = 1 };

		if (ask)
			memcpy(a.ask, ask, sizeof(a.ask));
		assert_int_equal(rp_apply_async(cur.pool, maps_task, &a, sizeof(a),
						sizeof(struct mrep), NULL,
						&cur.meet[i]),
				 0);
	}
	for (int i = 0; i < 2; i++) {
		const struct mrep *m;
		int rc = outcome(cur.meet[i], "a maps task", (const void **)&m);

		if (rc != 0)
			fail_msg("maps task: %s", describe(cur.meet[i], rc));
		out[i] = *m;
		rp_result_free(cur.meet[i]);
		cur.meet[i] = NULL;
	}
	assert_int_not_equal(out[0].pid, out[1].pid);
}

static void assert_one_region(const struct mrep *m)
{
	assert_int_equal(m->inodes, 1);
	assert_int_equal(m->lines, 1);
	assert_int_equal(m->layout_ok, 1);
	assert_int_equal(m->index_ok, 1);
	assert_int_equal(m->in_region, 1);
}

static void one_region_per_worker(void **state)
{
	static struct marg items[64];
	struct mrep m[2], again[2];
	const struct mrep *out;
	uint64_t bases[2];

	new_case();
	run_maps_pair(NULL, m);
	for (int i = 0; i < 2; i++) {
		assert_one_region(&m[i]);
		bases[i] = m[i].base;
	}
	assert_true(bases[0] != bases[1]);

	run_maps_pair(bases, again);
	for (int i = 0; i < 2; i++) {
		int own = again[i].base == bases[0] ? 0 : 1;

		assert_one_region(&again[i]);
		assert_int_equal(again[i].base, bases[own]);
		assert_int_equal(again[i].mapped[own], 1);
		assert_int_equal(again[i].mapped[!own], 0);
	}

	for (int i = 0; i < 64; i++)
		items[i] = (struct marg){ .page = cur.page };
	assert_int_equal(rp_map_async(cur.pool, maps_task, items, 64,
				      sizeof(items[0]), sizeof(struct mrep), 1,
				      NULL, &cur.map),
			 0);
	if (outcome(cur.map, "the maps map", (const void **)&out) != 0)
		fail_msg("maps map failed");
	for (int i = 0; i < 64; i++)
		assert_one_region(&out[i]);
	case_cleanup();
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(one_region_per_worker),
		TEST(result_tail_ahead),
		TEST(result_tail_backwards),
		TEST(result_tail_garbage),
		TEST(result_head_by_worker),
		TEST(record_bad_kind),
		TEST(record_huge_length),
		TEST(record_length_past_end),
		TEST(result_unknown_slot),
		TEST(result_slot_twice),
		TEST(result_wrong_length),
		TEST(result_nfail_too_large),
		TEST(fail_bad_record),
		TEST(frag_bad_record),
		TEST(ctl_magic_and_slot_state),
		TEST(crash_fields_garbage),
		TEST(crash_fields_claim_sigkill),
		TEST(region_memset_ff),
		TEST(region_memset_ff_queued),
		TEST(task_tail_scribbled),
		TEST(task_head_scribbled),
		TEST(task_head_scribbled_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
