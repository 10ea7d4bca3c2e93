/* SPDX-License-Identifier: MIT */
/* The bad-input table: error texts and the Process API. */
#include "api_table.h"

/* ========================================================================== */
/* Errors                                                                     */
/* ========================================================================== */

static int str_is(struct fx *f, const char *s, const char *want)
{
	if (s && strcmp(s, want) == 0)
		return GOT_MATCH;
	note(f, "got \"%s\"", s ? s : "(null)");
	return GOT_OTHER;
}

static int some_text(const char *s)
{
	return s && s[0] ? GOT_PTR : GOT_NULL;
}

ROWFN(r_strerror_unknown, some_text(rp_strerror(-4096 - RP_NERRORS_)))
ROWFN(r_strerror_int_min, some_text(rp_strerror(INT_MIN)))
ROWFN(r_strerror_positive, some_text(rp_strerror(12345)))
ROWFN(r_err_name_unknown,
	str_is(f, rp_err_name(-4096 - RP_NERRORS_), "UNKNOWN"))
ROWFN(r_err_name_int_min, str_is(f, rp_err_name(INT_MIN), "UNKNOWN"))
ROWFN(r_err_name_int_max, str_is(f, rp_err_name(INT_MAX), "UNKNOWN"))
ROWFN(r_version, rp_version() == RP_VERSION_HEX ? GOT_MATCH : GOT_OTHER)

const struct row error_rows[] = {
	{ "rp_strerror", "one past the last library code", r_strerror_unknown,
	  GOT_PTR, F_NONE },
	{ "rp_strerror", "INT_MIN", r_strerror_int_min, GOT_PTR, F_NONE },
	{ "rp_strerror", "a positive code", r_strerror_positive, GOT_PTR,
	  F_NONE },
	{ "rp_err_name", "one past the last library code: \"UNKNOWN\"",
	  r_err_name_unknown, GOT_MATCH, F_NONE },
	{ "rp_err_name", "INT_MIN: \"UNKNOWN\"", r_err_name_int_min,
	  GOT_MATCH, F_NONE },
	{ "rp_err_name", "INT_MAX: \"UNKNOWN\"", r_err_name_int_max,
	  GOT_MATCH, F_NONE },
	{ "rp_version", "no input: the header's RP_VERSION_HEX", r_version,
	  GOT_MATCH, F_NONE },
};
const size_t error_nrows = N_OF(error_rows);

/* ========================================================================== */
/* Processes                                                                  */
/* ========================================================================== */

static int zero_fn(void *arg, size_t len)
{
	return 0;
}

static int create_with(struct fx *f, const struct rp_process_opts *o)
{
	rp_process_t *p = SENTINEL_PROC;
	int rc = rp_process_create(o, &p);

	KEEP(f, p == SENTINEL_PROC);
	if (rc == 0 && p != SENTINEL_PROC)
		rp_process_free(p);
	return rc;
}

ROWFN(r_pcreate_null_opts, create_with(f, NULL))

static int r_pcreate_null_target(struct fx *f)
{
	struct rp_process_opts o = { .target = NULL };

	return create_with(f, &o);
}

static int r_pcreate_null_ret(struct fx *f)
{
	struct rp_process_opts o = { .target = zero_fn };

	return rp_process_create(&o, NULL);
}

static int r_pcreate_arg_null_len(struct fx *f)
{
	struct rp_process_opts o = { .target = zero_fn, .arg_len = 4 };

	return create_with(f, &o);
}

static int pcreate_method(struct fx *f, int m)
{
	struct rp_process_opts o = { .target = zero_fn,
				     .start_method = (enum rp_start_method)m };

	return create_with(f, &o);
}

ROWFN(r_pcreate_method_next, pcreate_method(f, RP_START_FORK + 1))
ROWFN(r_pcreate_method_neg, pcreate_method(f, -1))
ROWFN(r_pcreate_method_max, pcreate_method(f, INT_MAX))

static int r_pcreate_empty_cpus(struct fx *f)
{
	cpu_set_t empty;
	struct rp_process_opts o = { .target = zero_fn, .cpus = &empty };

	CPU_ZERO(&empty);
	return create_with(f, &o);
}

ROWFN(r_pstart_null, rp_process_start(NULL))

static int r_pstart_running(struct fx *f)
{
	pid_t pid = rp_process_pid(f->proc);
	int rc = rp_process_start(f->proc);

	KEEP(f, rp_process_pid(f->proc) == pid);
	KEEP(f, rp_active_children(NULL, 0) == 1);
	return rc;
}

ROWFN(r_pstart_ended, rp_process_start(f->proc))
ROWFN(r_pjoin_null, rp_process_join(NULL, 0))
ROWFN(r_pjoin_null_forever, rp_process_join(NULL, RP_FOREVER))
ROWFN(r_pjoin_new, rp_process_join(f->proc, 0))
ROWFN(r_pjoin_new_forever, rp_process_join(f->proc, RP_FOREVER))
ROWFN(r_pjoin_minus2, rp_process_join(f->proc, -2))
ROWFN(r_pjoin_int64_min, rp_process_join(f->proc, INT64_MIN))
ROWFN(r_pjoin_running_poll, rp_process_join(f->proc, 0))
ROWFN(r_alive_null, rp_process_is_alive(NULL))
ROWFN(r_alive, rp_process_is_alive(f->proc))

static int r_exitcode_null(struct fx *f)
{
	int code = SENTINEL;
	int rc = rp_process_exitcode(NULL, &code);

	KEEP(f, code == SENTINEL);
	return rc;
}

ROWFN(r_exitcode_null_ret, rp_process_exitcode(f->proc, NULL))

static int r_exitcode_none_yet(struct fx *f)
{
	int code = SENTINEL;
	int rc = rp_process_exitcode(f->proc, &code);

	KEEP(f, code == SENTINEL);
	return rc;
}

ROWFN(r_terminate_null, rp_process_terminate(NULL))
ROWFN(r_terminate, rp_process_terminate(f->proc))
ROWFN(r_kill_null, rp_process_kill(NULL))
ROWFN(r_kill, rp_process_kill(f->proc))
ROWFN(r_pid_null, (int)rp_process_pid(NULL))
ROWFN(r_pid, (int)rp_process_pid(f->proc))
ROWFN(r_pname_null, rp_process_name(NULL) ? GOT_PTR : GOT_NULL)

static int r_pname_default(struct fx *f)
{
	struct rp_process_opts o = { .target = zero_fn };
	rp_process_t *p = h_new(&o);
	const char *name = rp_process_name(p);
	int rc = name && strncmp(name, "Process-", 8) == 0 ? GOT_MATCH :
							      GOT_OTHER;

	if (rc != GOT_MATCH)
		note(f, "got \"%s\"", name ? name : "(null)");
	h_free(p);
	return rc;
}

ROWFN(r_daemon_null, rp_process_daemon(NULL))
ROWFN(r_daemon, rp_process_daemon(f->proc))
ROWFN(r_pclose_null, rp_process_close(NULL))

static int r_pclose_running(struct fx *f)
{
	int rc = rp_process_close(f->proc);

	if (rc == 0) { /* released after all: nothing left to check */
		h_untrack(f->proc);
		f->proc = NULL;
	}
	return rc;
}

static int r_pfree_null(struct fx *f)
{
	rp_process_free(NULL);
	return DONE;
}

ROWFN(r_children_null_cap, rp_active_children(NULL, 1))
ROWFN(r_children_null_huge_cap, rp_active_children(NULL, SIZE_MAX))

/* cap 0 with a list: the count, and no entry written. */
static int r_children_cap0(struct fx *f)
{
	rp_process_t *list[1] = { SENTINEL_PROC };
	int rc = rp_active_children(list, 0);

	KEEP(f, list[0] == SENTINEL_PROC);
	return rc;
}

static int r_children_ended(struct fx *f)
{
	rp_process_t *list[1] = { SENTINEL_PROC };
	int rc = rp_active_children(list, 1);

	KEEP(f, list[0] == SENTINEL_PROC);
	return rc;
}

static int r_cpu_count(struct fx *f)
{
	cpu_set_t set;
	int n = rp_cpu_count();

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && n >= 1 &&
	    n == CPU_COUNT(&set))
		return GOT_MATCH;
	note(f, "rp_cpu_count() = %d", n);
	return GOT_OTHER;
}

ROWFN(r_current_name, str_is(f, rp_current_process_name(), "MainProcess"))

const struct row process_rows[] = {
	{ "rp_process_create", "NULL opts", r_pcreate_null_opts, -EINVAL,
	  F_NONE },
	{ "rp_process_create", "NULL target", r_pcreate_null_target, -EINVAL,
	  F_NONE },
	{ "rp_process_create", "NULL ret_proc", r_pcreate_null_ret, -EINVAL,
	  F_NONE },
	{ "rp_process_create", "arg NULL with arg_len 4",
	  r_pcreate_arg_null_len, -EINVAL, F_NONE },
	{ "rp_process_create", "start method RP_START_FORK + 1",
	  r_pcreate_method_next, -EINVAL, F_NONE },
	{ "rp_process_create", "start method -1", r_pcreate_method_neg,
	  -EINVAL, F_NONE },
	{ "rp_process_create", "start method INT_MAX", r_pcreate_method_max,
	  -EINVAL, F_NONE },
	{ "rp_process_create", "empty cpu set", r_pcreate_empty_cpus, -EINVAL,
	  F_NONE },
	{ "rp_process_start", "NULL", r_pstart_null, -EINVAL, F_NONE },
	{ "rp_process_start", "twice, while running", r_pstart_running,
	  -EALREADY, F_PROC_RUNNING },
	{ "rp_process_start", "after the child ended", r_pstart_ended,
	  -EALREADY, F_PROC_ENDED },
	{ "rp_process_join", "NULL", r_pjoin_null, -EINVAL, F_NONE },
	{ "rp_process_join", "NULL, RP_FOREVER", r_pjoin_null_forever,
	  -EINVAL, F_NONE },
	{ "rp_process_join", "never started", r_pjoin_new, -ECHILD,
	  F_PROC_NEW },
	{ "rp_process_join", "never started, RP_FOREVER", r_pjoin_new_forever,
	  -ECHILD, F_PROC_NEW },
	{ "rp_process_join", "running, timeout -2", r_pjoin_minus2, -EINVAL,
	  F_PROC_RUNNING },
	{ "rp_process_join", "running, timeout INT64_MIN", r_pjoin_int64_min,
	  -EINVAL, F_PROC_RUNNING },
	{ "rp_process_join", "ended, timeout -2", r_pjoin_minus2, -EINVAL,
	  F_PROC_ENDED },
	{ "rp_process_join", "running, timeout 0", r_pjoin_running_poll,
	  -ETIMEDOUT, F_PROC_RUNNING },
	{ "rp_process_is_alive", "NULL", r_alive_null, -EINVAL, F_NONE },
	{ "rp_process_is_alive", "never started", r_alive, 0, F_PROC_NEW },
	{ "rp_process_is_alive", "ended", r_alive, 0, F_PROC_ENDED },
	{ "rp_process_exitcode", "NULL proc", r_exitcode_null, -EINVAL,
	  F_NONE },
	{ "rp_process_exitcode", "NULL ret_code, never started",
	  r_exitcode_null_ret, -EINVAL, F_PROC_NEW },
	{ "rp_process_exitcode", "NULL ret_code, ended", r_exitcode_null_ret,
	  -EINVAL, F_PROC_ENDED },
	{ "rp_process_exitcode", "never started", r_exitcode_none_yet, 0,
	  F_PROC_NEW },
	{ "rp_process_exitcode", "still running", r_exitcode_none_yet, 0,
	  F_PROC_RUNNING },
	{ "rp_process_terminate", "NULL", r_terminate_null, -EINVAL, F_NONE },
	{ "rp_process_terminate", "never started", r_terminate, -ECHILD,
	  F_PROC_NEW },
	{ "rp_process_terminate", "ended: nothing sent, exit code kept",
	  r_terminate, 0, F_PROC_ENDED },
	{ "rp_process_kill", "NULL", r_kill_null, -EINVAL, F_NONE },
	{ "rp_process_kill", "never started", r_kill, -ECHILD, F_PROC_NEW },
	{ "rp_process_kill", "ended: nothing sent, exit code kept", r_kill, 0,
	  F_PROC_ENDED },
	{ "rp_process_pid", "NULL", r_pid_null, 0, F_NONE | UNDOC },
	{ "rp_process_pid", "never started: 0", r_pid, 0, F_PROC_NEW },
	{ "rp_process_name", "NULL", r_pname_null, GOT_NULL, F_NONE | UNDOC },
	{ "rp_process_name", "no name given: \"Process-<N>\"", r_pname_default,
	  GOT_MATCH, F_NONE },
	{ "rp_process_daemon", "NULL", r_daemon_null, false, F_NONE | UNDOC },
	{ "rp_process_daemon", "created non-daemon, never started", r_daemon,
	  false, F_PROC_NEW },
	{ "rp_process_close", "NULL", r_pclose_null, -EINVAL, F_NONE },
	{ "rp_process_close", "while the child runs", r_pclose_running,
	  -EBUSY, F_PROC_RUNNING },
	{ "rp_process_free", "NULL", r_pfree_null, DONE, F_NONE },
	{ "rp_active_children", "NULL list, cap 1", r_children_null_cap,
	  -EINVAL, F_NONE },
	{ "rp_active_children", "NULL list, cap SIZE_MAX",
	  r_children_null_huge_cap, -EINVAL, F_NONE },
	{ "rp_active_children", "cap 0 with one running: 1, nothing written",
	  r_children_cap0, 1, F_PROC_RUNNING },
	{ "rp_active_children", "the only child ended: 0",
	  r_children_ended, 0, F_PROC_ENDED },
	{ "rp_cpu_count", "equals the affinity mask's count, >= 1",
	  r_cpu_count, GOT_MATCH, F_NONE },
	{ "rp_current_process_name", "in the owner while a child runs",
	  r_current_name, GOT_MATCH, F_PROC_RUNNING },
};
const size_t process_nrows = N_OF(process_rows);

