/* SPDX-License-Identifier: MIT */
/*
 * The bad-input table's fixtures (the objects a row works on), the checks
 * that nothing changed, and the runner; test_api_table.c says how the
 * rows are judged.
 */
#include "api_table.h"

/*
 * Rows that ask for SIZE_MAX bytes expect -ENOMEM from the library's own
 * malloc; AddressSanitizer aborts on such a request unless told to return
 * NULL as malloc does without it.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

char sentinel_obj; /* what the SENTINEL_ pointers point at */

const struct p_arg two_items[2] = {
	{ .slot = -1, .value = 1 },
	{ .slot = -1, .value = 2 },
};

/* Writes nothing and says so: safe whatever res_cap the call claimed. */
int empty_task(const void *arg, size_t arg_len, void *res, size_t res_cap,
	       rp_task_ctx_t *ctx)
{
	rp_task_set_result_len(ctx, 0);
	return 0;
}

void note(struct fx *f, const char *fmt, ...)
{
	size_t used = strlen(f->note);
	va_list ap;

	if (used + 3 >= sizeof(f->note))
		return;
	if (used) {
		memcpy(f->note + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(f->note + used, sizeof(f->note) - used, fmt, ap);
	va_end(ap);
}

static void imap_items(struct fx *f, int n, bool gate)
{
	for (int i = 0; i < n; i++)
		f->items[i] = gate ? p_gated(0, 7) : p_plain(i);
	f->in = (struct rp_input){ .items = f->items, .n = (size_t)n,
				   .item_size = sizeof(f->items[0]) };
	assert_int_equal(rp_imap(f->pool, p_task, &f->in,
				 sizeof(struct p_rep), 1, &f->it),
			 0);
	p_track_iter(f->it);
}

static void fx_setup(struct fx *f, enum fixture fix)
{
	struct p_arg a;
	struct rp_item item;

	memset(f, 0, sizeof(*f));
	switch (fix) {
	case F_NONE:
		return;
	case F_PROC_NEW:
	case F_PROC_RUNNING:
	case F_PROC_ENDED:
		f->proc = h_new_blocker(RP_START_DEFAULT, 0, PROC_CODE,
					PROC_NAME, false);
		if (fix == F_PROC_NEW)
			return;
		assert_int_equal(rp_process_start(f->proc), 0);
		h_wait_ready(0);
		if (fix == F_PROC_ENDED) {
			h_open_gate(0);
			assert_int_equal(h_join_code(f->proc), PROC_CODE);
		}
		return;
	default:
		break;
	}
	f->pool = p_pool_n(2);
	switch (fix) {
	case F_POOL_CLOSED:
	case F_POOL_TERMINATED:
	case F_RES_PENDING:
		a = p_gated(0, fix == F_RES_PENDING ? 2 : 4);
		f->res = p_submit(f->pool, &a, NULL);
		p_wait_started(0);
		if (fix == F_POOL_CLOSED)
			assert_int_equal(rp_pool_close(f->pool), 0);
		if (fix == F_POOL_TERMINATED)
			assert_int_equal(rp_pool_terminate(f->pool), 0);
		break;
	case F_RES_DONE:
	case F_RES_FREED:
		a = p_plain(3);
		f->res = p_submit(f->pool, &a, NULL);
		assert_int_equal(p_get(f->res)->value, 3);
		if (fix == F_RES_FREED) {
			rp_result_free(f->res);
			f->res_freed = true;
		}
		break;
	case F_RES_FAILED:
		a = (struct p_arg){ .slot = -1, .flags = P_FAIL, .code = 5,
				    .value = 6 };
		f->res = p_submit(f->pool, &a, NULL);
		assert_int_equal(rp_result_wait(f->res, H_GUARD_NS), 0);
		break;
	case F_ITER:
	case F_ITER_END:
		imap_items(f, 2, false);
		if (fix == F_ITER_END) {
			for (int i = 0; i < 2; i++)
				assert_int_equal(rp_iter_next(f->it,
							      H_GUARD_NS,
							      &item),
						 0);
			assert_int_equal(rp_iter_next(f->it, H_GUARD_NS,
						      &item),
					 RP_EEND);
		}
		break;
	case F_ITER_PENDING:
		imap_items(f, 1, true);
		p_wait_started(0);
		break;
	default:
		break;
	}
}

/* ---- "nothing changed": each fixture's objects still behave ------------- */

static void pool_runs_a_task(struct fx *f)
{
	struct p_arg a = p_plain(11);
	struct p_rep r;
	size_t len = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = rp_apply(f->pool, p_task, &a, sizeof(a), &r, sizeof(r), &len,
		      NULL);
	KEEP(f, rc == 0);
	KEEP(f, r.value == 11 && r.out == 34 && len == sizeof(r));
	KEEP(f, rp_pool_size(f->pool) == 2);
}

/* A pending result, gated on slot 0, completes with its value. */
static void res_completes(struct fx *f, int64_t value)
{
	const void *data = NULL;
	size_t len = 0;

	KEEP(f, rp_result_ready(f->res) == 0);
	p_open(0);
	KEEP(f, rp_result_get(f->res, H_GUARD_NS, &data, &len) == 0);
	KEEP(f, data && len == sizeof(struct p_rep) &&
		     ((const struct p_rep *)data)->value == value);
	KEEP(f, rp_result_successful(f->res) == 1);
}

static void res_still_done(struct fx *f)
{
	const void *data = NULL;
	size_t len = 0;

	KEEP(f, rp_result_get(f->res, 0, &data, &len) == 0);
	KEEP(f, data && len == sizeof(struct p_rep) &&
		     ((const struct p_rep *)data)->value == 3);
	KEEP(f, rp_result_successful(f->res) == 1);
	KEEP(f, rp_result_error(f->res) == NULL);
}

static void res_still_failed(struct fx *f)
{
	const void *data = SENTINEL_DATA;
	const struct rp_error *e;

	KEEP(f, rp_result_get(f->res, 0, &data, NULL) == RP_ETASK);
	KEEP(f, data == SENTINEL_DATA);
	KEEP(f, rp_result_successful(f->res) == 0);
	e = rp_result_error(f->res);
	KEEP(f, e && e->code == RP_ETASK && e->task_code == 5);
}

/* The iterator yields items first .. n - 1 with values base + i, then
 * RP_EEND. */
static void iter_yields(struct fx *f, int first, int n, int64_t base)
{
	struct rp_item item;

	for (int i = first; i < n; i++) {
		int rc = rp_iter_next(f->it, H_GUARD_NS, &item);

		KEEP(f, rc == 0);
		if (rc != 0)
			return;
		KEEP(f, item.index == (size_t)i && item.data &&
			     ((const struct p_rep *)item.data)->value ==
				     base + i);
	}
	KEEP(f, rp_iter_next(f->it, H_GUARD_NS, &item) == RP_EEND);
}

static void proc_behaves(struct fx *f, enum fixture fix)
{
	const char *name = rp_process_name(f->proc);
	int code = SENTINEL;

	KEEP(f, name && strcmp(name, PROC_NAME) == 0);
	if (fix == F_PROC_NEW) {
		KEEP(f, rp_process_pid(f->proc) == 0);
		KEEP(f, rp_process_is_alive(f->proc) == 0);
		KEEP(f, rp_process_start(f->proc) == 0);
		h_wait_ready(0);
	}
	if (fix != F_PROC_ENDED) {
		KEEP(f, rp_process_is_alive(f->proc) == 1);
		KEEP(f, rp_process_pid(f->proc) == h_sh->pid[0]);
		KEEP(f, rp_process_exitcode(f->proc, &code) == 0);
		KEEP(f, code == SENTINEL);
		h_open_gate(0);
		KEEP(f, rp_process_join(f->proc, H_GUARD_NS) == 0);
	}
	KEEP(f, rp_process_is_alive(f->proc) == 0);
	KEEP(f, rp_process_exitcode(f->proc, &code) == 1);
	KEEP(f, code == PROC_CODE);
	KEEP(f, rp_process_pid(f->proc) == h_sh->pid[0]);
}

static void pool_behaves(struct fx *f, enum fixture fix)
{
	bool res_live = f->res && !f->res_freed;
	struct rp_item item;

	switch (fix) {
	case F_POOL_CLOSED:
		if (res_live)
			res_completes(f, 4);
		p_open(0);
		KEEP(f, rp_pool_join(f->pool, H_GUARD_NS) == 0);
		return;
	case F_POOL_TERMINATED:
		if (res_live)
			KEEP(f, rp_result_get(f->res, H_GUARD_NS, NULL,
					      NULL) == RP_ETERMINATED);
		KEEP(f, rp_pool_join(f->pool, H_GUARD_NS) == 0);
		return;
	case F_RES_PENDING:
		if (res_live)
			res_completes(f, 2);
		break;
	case F_RES_DONE:
		if (res_live)
			res_still_done(f);
		break;
	case F_RES_FAILED:
		if (res_live)
			res_still_failed(f);
		break;
	case F_ITER:
		if (f->it)
			iter_yields(f, 0, 2, 0);
		break;
	case F_ITER_PENDING:
		p_open(0);
		if (f->it)
			iter_yields(f, 0, 1, 7);
		break;
	case F_ITER_END:
		if (f->it)
			KEEP(f, rp_iter_next(f->it, 0, &item) == RP_EEND);
		break;
	default:
		break;
	}
	if (f->closed)
		KEEP(f, rp_pool_join(f->pool, H_GUARD_NS) == 0);
	else
		pool_runs_a_task(f);
}

static void fx_check(struct fx *f, enum fixture fix)
{
	/* No callback of the harness's recorders ran for a refused call. */
	KEEP(f, p_cb.calls == 0);
	if (f->proc)
		proc_behaves(f, fix);
	if (f->pool)
		pool_behaves(f, fix);
	if (fix == F_NONE)
		KEEP(f, rp_active_children(NULL, 0) == 0);
}

static void fx_teardown(struct fx *f)
{
	for (int i = 0; i < P_SLOTS; i++)
		p_open(i);
	for (int i = 0; i < H_SLOTS; i++)
		h_open_gate(i);
	if (f->it)
		p_iter_free(f->it);
	if (f->res && !f->res_freed)
		rp_result_free(f->res);
	if (f->pool)
		p_destroy(f->pool);
	if (f->proc)
		h_free(f->proc);
	/* Every worker and child is gone: the pages can be reused. */
	memset(p_sh, 0, sizeof(*p_sh));
	memset(h_sh, 0, sizeof(*h_sh));
	memset(&p_cb, 0, sizeof(p_cb));
	p_cb.owner_pid = getpid();
}

/* ---- the runner --------------------------------------------------------- */

static const char *code_name(int code)
{
	switch (code) {
	case GOT_NULL: return "GOT_NULL";
	case GOT_PTR: return "GOT_PTR";
	case GOT_MATCH: return "GOT_MATCH";
	case GOT_OTHER: return "GOT_OTHER";
	case GOT_HUNG: return "GOT_HUNG";
	}
	return rp_err_name(code);
}

void run_table(const char *table, const struct row *rows, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct leak_snapshot before, after;
		struct fx f;
		bool leaked;
		int got;

		leak_snapshot_take(&before);
		fx_setup(&f, FIX(r));
		got = r->call(&f);
		fx_check(&f, FIX(r));
		fx_teardown(&f);
		leak_snapshot_take(&after);
		leaked = memcmp(&before, &after, sizeof(before)) != 0;
		if (leaked)
			note(&f, "left behind: fds %d -> %d, children %d -> "
				 "%d, shared maps %d -> %d",
			     before.fds, after.fds, before.children,
			     after.children, before.shared_maps,
			     after.shared_maps);
		if (got == r->want && !f.changed && !leaked)
			continue;
		bad++;
		print_error("MISMATCH %s: %s%s: got %d (%s), want %d "
			    "(%s)%s%s\n",
			    r->func, r->name,
			    (r->fix & UNDOC) ? " [undocumented]" : "",
			    got, code_name(got), r->want, code_name(r->want),
			    f.note[0] ? "; " : "", f.note);
	}
	if (bad)
		fail_msg("%s: %d of %zu rows failed", table, bad, n);
}
