/* SPDX-License-Identifier: MIT */
/*
 * rp-hashwords: seed 004's "hash a dictionary of words" example in C.
 *
 * The Python it mirrors:
 *
 *	words = open(path, encoding='utf-8').readlines()
 *	known = {sha512(w.encode()).hexdigest() for w in words}     # serial
 *	with Pool(n) as pool:
 *		known = set(pool.map(hash_word, words))               # pool
 *
 * Every line is hashed with its trailing newline, as readlines() keeps it,
 * first serially and then with rp_map over a pool, and the digests go into
 * a set.  The set holds the 64-byte binary digests, not the 128-character
 * hex strings: hexdigest() is a one-to-one encoding of the digest, so the
 * number of distinct entries (the count printed) is the same, for half the
 * memory and no formatting on the hot path.  Both runs must produce the
 * same digests and the same count, or the program exits 1.
 *
 * SHA-512 is nettle's: plain C with the context on the stack, so a hash
 * costs no allocation and no provider dispatch, which OpenSSL's EVP API
 * adds to every call; at about a microsecond per word that overhead would
 * be a visible share of each task.
 *
 * Without a path the input is generated with the seed's shape: 1,049,938
 * lines of which 979,250 are distinct (the seed's word and hash counts),
 * from a fixed-seed PRNG, so every run hashes the same bytes.
 *
 * --openmp adds the pool's yardstick: the serial loop again with an
 * `omp parallel for` over the hashing, one thread per worker, on the same
 * lines with the same hash, checked against the serial digests too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <nettle/version.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ringpool.h"

#define DIGEST_LEN SHA512_DIGEST_SIZE
#define SEED_LINES 1049938   /* seed 004: "Loaded 1049938 words" */
#define SEED_DISTINCT 979250 /* seed 004: "Done, with 979250 hashes" */
#define GEN_SEED 0x5eed0004u
#define WORD_MIN 3
#define WORD_MAX 12

/*
 * One line of the text, as a task's argument: a fixed-size reference, so a
 * word list travels through rp_map as a plain array of these.
 */
struct line {
	uint64_t off;
	uint64_t len; /* the trailing newline included, if the line has one */
};

struct words {
	char *text;
	size_t text_len;
	struct line *lines;
	size_t n;
};

struct config {
	const char *path;       /* NULL: generate */
	const char *write_path; /* --write-words: dump the list and stop */
	unsigned workers;       /* 0: every CPU we may use */
	size_t chunksize;       /* RP_CHUNKSIZE_AUTO unless given */
	enum rp_start_method method;
	bool json;
	bool openmp;            /* --openmp: time the OpenMP loop as well */
};

struct timing {
	double serial_s;  /* hash + set, one process */
	double create_s;  /* rp_pool_create */
	double map_s;     /* rp_map */
	double set_s;     /* inserting the pool's digests */
	double destroy_s; /* rp_pool_destroy */
	double omp_s;     /* hash (OpenMP) + set: --openmp only */
	size_t serial_count;
	size_t pool_count;
	size_t omp_count;
	int workers;
};

/*
 * The text the tasks read.  Workers are started by rp_pool_create, after
 * the words are loaded, so they see this pointer and the bytes behind it
 * through copy-on-write memory: only the 16-byte line references cross
 * the rings.
 */
static const char *g_text;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------------- */
/* A set of byte strings                                                  */
/* ---------------------------------------------------------------------- */

/*
 * Open addressing with linear probing over 8-byte slots: the high half of
 * the key's hash as a tag, and 1 + the key's number (0 marks an empty
 * slot).  Keys stay where they are: number i is digest i of an array
 * (the set of hashes) or line i of a word list (uniqueness while
 * generating).  The table is sized once for the most keys it can get, so
 * it never grows and stays at most half full.
 */
struct set {
	uint64_t *slots;
	size_t mask;
	size_t count;
	const uint8_t *digests;   /* keys are digests ... */
	const struct words *words; /* ... or lines */
};

static int set_init(struct set *s, size_t max_keys)
{
	size_t cap = 16;

	while (cap < 2 * max_keys)
		cap *= 2;
	s->slots = calloc(cap, sizeof(*s->slots));
	if (!s->slots)
		return -ENOMEM;
	s->mask = cap - 1;
	s->count = 0;
	return 0;
}

static void set_free(struct set *s)
{
	free(s->slots);
	s->slots = NULL;
}

static const void *set_key(const struct set *s, uint32_t ref, size_t *len)
{
	if (s->digests) {
		*len = DIGEST_LEN;
		return s->digests + (size_t)ref * DIGEST_LEN;
	}
	*len = s->words->lines[ref].len;
	return s->words->text + s->words->lines[ref].off;
}

/* Adds key number ref; returns true if no equal key was there yet. */
static bool set_insert(struct set *s, uint32_t ref, uint64_t hash)
{
	uint64_t tag = hash & 0xffffffff00000000u;
	size_t len, i;
	const void *key = set_key(s, ref, &len);

	for (i = hash & s->mask; s->slots[i]; i = (i + 1) & s->mask) {
		size_t other_len;
		const void *other;

		if ((s->slots[i] & 0xffffffff00000000u) != tag)
			continue;
		other = set_key(s, (uint32_t)s->slots[i] - 1, &other_len);
		if (other_len == len && memcmp(other, key, len) == 0)
			return false;
	}
	s->slots[i] = tag | (ref + 1u);
	s->count++;
	return true;
}

/* A digest is already uniform: its first eight bytes are its hash. */
static uint64_t digest_hash(const uint8_t *d)
{
	uint64_t h;

	memcpy(&h, d, sizeof(h));
	return h;
}

/* FNV-1a with a final mix: words are short and far from uniform. */
static uint64_t bytes_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3u;
	return h ^ (h >> 29) ^ (h << 32);
}

/* ---------------------------------------------------------------------- */
/* The word list                                                          */
/* ---------------------------------------------------------------------- */

/* splitmix64: small, fast, and the same sequence on every machine. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Writes a word of WORD_MIN..WORD_MAX lowercase letters and a newline. */
static size_t gen_word(uint64_t *rng, char *out)
{
	size_t len = WORD_MIN + rng_next(rng) % (WORD_MAX - WORD_MIN + 1);

	for (size_t i = 0; i < len; i++)
		out[i] = (char)('a' + rng_next(rng) % 26);
	out[len] = '\n';
	return len + 1;
}

/* Makes line i a word not seen before, redrawing on a collision. */
static void gen_new(uint64_t *rng, struct words *w, size_t i, size_t pos,
		    struct set *seen)
{
	do {
		w->lines[i].off = pos;
		w->lines[i].len = gen_word(rng, w->text + pos);
	} while (!set_insert(seen, (uint32_t)i,
			     bytes_hash(w->text + pos, w->lines[i].len)));
}

/*
 * n lines of which exactly distinct are different.  Each line is new with
 * probability (new ones left) / (lines left), so the repeats are spread
 * over the whole list and both totals come out exact.
 */
static int gen_words(struct words *w, size_t n, size_t distinct)
{
	uint64_t rng = GEN_SEED;
	size_t *firsts = malloc(distinct * sizeof(*firsts));
	struct set seen = { .words = w };
	size_t made = 0, pos = 0;

	w->text = malloc(n * (WORD_MAX + 1));
	w->lines = malloc(n * sizeof(*w->lines));
	if (!firsts || !w->text || !w->lines || set_init(&seen, distinct)) {
		free(firsts);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct line *l = &w->lines[i];

		if (made == 0 || rng_next(&rng) % (n - i) < distinct - made) {
			gen_new(&rng, w, i, pos, &seen);
			firsts[made++] = i;
		} else {
			*l = w->lines[firsts[rng_next(&rng) % made]];
			memcpy(w->text + pos, w->text + l->off, l->len);
			l->off = pos;
		}
		pos += l->len;
	}
	w->n = n;
	w->text_len = pos;
	set_free(&seen);
	free(firsts);
	return 0;
}

/* Reads the whole file; a short read is an error, never a cut list. */
static int read_file(const char *path, char **ret_buf, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t len = 0;
	char *buf = NULL;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!(buf = malloc((size_t)st.st_size + 1)))
		err = -ENOMEM;
	while (!err && len < (size_t)st.st_size) {
		ssize_t got = read(fd, buf + len, (size_t)st.st_size - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			err = got < 0 ? -errno : -EIO;
		else
			len += (size_t)got;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/*
 * Python's text mode reads "\r\n" and a lone "\r" as "\n" (universal
 * newlines), so the lines it hashes end in "\n" whatever the file has.
 * Rewrites buf the same way, in place; returns the new length.
 */
static size_t universal_newlines(char *buf, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\r') {
			buf[out++] = buf[i];
			continue;
		}
		buf[out++] = '\n';
		if (i + 1 < len && buf[i + 1] == '\n')
			i++;
	}
	return out;
}

/* Splits the text as readlines() does: the last line may lack "\n". */
static int split_lines(struct words *w)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i < w->text_len; i++)
		n += w->text[i] == '\n';
	n += w->text_len > 0 && w->text[w->text_len - 1] != '\n';
	if (n >= UINT32_MAX) /* the set numbers keys with 32 bits */
		return -EFBIG;
	w->lines = malloc((n ? n : 1) * sizeof(*w->lines));
	if (!w->lines)
		return -ENOMEM;
	w->n = 0;
	for (size_t i = 0; i < w->text_len; i++) {
		if (w->text[i] != '\n' && i + 1 < w->text_len)
			continue;
		w->lines[w->n++] = (struct line){ start, i + 1 - start };
		start = i + 1;
	}
	return 0;
}

static int load_words(const char *path, struct words *w)
{
	int err;

	if (!path)
		return gen_words(w, SEED_LINES, SEED_DISTINCT);
	err = read_file(path, &w->text, &w->text_len);
	if (err)
		return err;
	w->text_len = universal_newlines(w->text, w->text_len);
	return split_lines(w);
}

static int write_words(const char *path, const struct words *w)
{
	FILE *f = fopen(path, "we");
	size_t put;

	if (!f)
		return -errno;
	put = fwrite(w->text, 1, w->text_len, f);
	if (fclose(f) != 0 || put != w->text_len)
		return -EIO;
	return 0;
}

static void words_free(struct words *w)
{
	free(w->text);
	free(w->lines);
}

/* ---------------------------------------------------------------------- */
/* Hashing, serial and pooled                                             */
/* ---------------------------------------------------------------------- */

static void sha512_bytes(const void *data, size_t len, uint8_t *out)
{
	struct sha512_ctx ctx;

	sha512_init(&ctx);
	sha512_update(&ctx, len, data);
	sha512_digest(&ctx, DIGEST_LEN, out);
}

/*
 * The task: one line's digest, written straight into the result slot.
 * The argument is copied out because ring bytes carry no alignment
 * promise.
 */
static int hash_line_task(const void *arg, size_t arg_len, void *res,
			  size_t res_cap, rp_task_ctx_t *ctx)
{
	struct line l;

	if (arg_len != sizeof(l) || res_cap < DIGEST_LEN)
		return rp_task_fail(ctx, EINVAL,
				    "item of %zu bytes, result of %zu", arg_len,
				    res_cap);
	memcpy(&l, arg, sizeof(l));
	sha512_bytes(g_text + l.off, l.len, res);
	return 0;
}

/*
 * Inserts ahead of this many keys: the table is far bigger than the
 * caches, so each insert waits for a miss unless its slot was fetched
 * while the ones before it were inserted.
 */
#define INSERT_AHEAD 16

/* Inserts n digests; returns the set's size, or -ENOMEM. */
static ssize_t count_digests(const uint8_t *digests, size_t n)
{
	struct set s = { .digests = digests };
	ssize_t count;

	if (set_init(&s, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *d = digests + i * DIGEST_LEN;

		if (i + INSERT_AHEAD < n)
			__builtin_prefetch(&s.slots[digest_hash(d + INSERT_AHEAD *
								DIGEST_LEN) &
						    s.mask], 1);
		set_insert(&s, (uint32_t)i, digest_hash(d));
	}
	count = (ssize_t)s.count;
	set_free(&s);
	return count;
}

/*
 * The serial run does what the pool run does, in one process: hash every
 * line into the digest array, then fill the set from it.  Seed 004's
 * comprehension interleaves the two, but here that costs ~0.13 s more
 * for the same work (each insert's cache miss then waits between two
 * hashes instead of overlapping with the next inserts), which would
 * credit the pool with a speedup that is not parallelism.
 */
static int run_serial(const struct words *w, uint8_t *digests,
		      struct timing *t)
{
	double t0 = now_s();
	ssize_t count;

	for (size_t i = 0; i < w->n; i++)
		sha512_bytes(g_text + w->lines[i].off, w->lines[i].len,
			     digests + i * DIGEST_LEN);
	count = count_digests(digests, w->n);
	if (count < 0)
		return (int)count;
	t->serial_count = (size_t)count;
	t->serial_s = now_s() - t0;
	return 0;
}

static int map_words(rp_pool_t *pool, const struct words *w,
		     const struct config *cfg, uint8_t *digests)
{
	struct rp_error e = { 0 };
	int err;

	err = rp_map(pool, hash_line_task, w->lines, w->n, sizeof(struct line),
		     digests, DIGEST_LEN, cfg->chunksize, &e);
	if (err)
		fprintf(stderr, "rp-hashwords: rp_map: %s (%s; line %" PRId64
			", worker %d: %s)\n", rp_err_name(err),
			rp_strerror(e.code ? e.code : err), e.index,
			(int)e.worker_pid, e.message);
	return err;
}

/*
 * The pool run, timed in steps: create, map, set, destroy.  The caller has
 * loaded the words already (see g_text).
 */
static int run_pool(const struct words *w, const struct config *cfg,
		    uint8_t *digests, struct timing *t)
{
	struct rp_pool_opts o = {
		.nworkers = cfg->workers,
		.start_method = cfg->method,
	};
	rp_pool_t *pool = NULL;
	double t0 = now_s(), t1, t2;
	ssize_t count;
	int err;

	err = rp_pool_create(&o, &pool);
	if (err) {
		fprintf(stderr, "rp-hashwords: rp_pool_create: %s\n",
			rp_strerror(err));
		return err;
	}
	t1 = now_s();
	t->workers = rp_pool_size(pool);
	err = map_words(pool, w, cfg, digests);
	t2 = now_s();
	count = err ? 0 : count_digests(digests, w->n);
	t->set_s = now_s() - t2;
	rp_pool_destroy(pool);
	t->destroy_s = now_s() - t2 - t->set_s;
	t->create_s = t1 - t0;
	t->map_s = t2 - t1;
	t->pool_count = count > 0 ? (size_t)count : 0;
	return err ? err : count < 0 ? (int)count : 0;
}

/*
 * The yardstick for the pool: the serial run's loop under `omp parallel
 * for`, schedule(static) (libgomp's default: one contiguous half per
 * thread on 2 cores), as many threads as the pool has workers, and the set
 * filled afterwards as in the other two runs.  An empty region first
 * starts the team before the clock, as the pool is created before its
 * clock starts.  This runs last: once libgomp's threads exist, this
 * process must not fork a pool (see RP_START_FORK).
 */
static int run_openmp(const struct words *w, uint8_t *digests,
		      struct timing *t)
{
#ifdef _OPENMP
	int threads = t->workers > 0 ? t->workers : 1;
	double t0;
	ssize_t count;

#pragma omp parallel num_threads(threads)
	{
		__asm__ volatile("" ::: "memory");
	}
	t0 = now_s();
#pragma omp parallel for num_threads(threads) schedule(static)
	for (size_t i = 0; i < w->n; i++)
		sha512_bytes(g_text + w->lines[i].off, w->lines[i].len,
			     digests + i * DIGEST_LEN);
	count = count_digests(digests, w->n);
	if (count < 0)
		return (int)count;
	t->omp_count = (size_t)count;
	t->omp_s = now_s() - t0;
	return 0;
#else
	(void)w;
	(void)digests;
	(void)t;
	return -ENOTSUP;
#endif
}

/* ---------------------------------------------------------------------- */
/* Report                                                                 */
/* ---------------------------------------------------------------------- */

static size_t auto_chunksize(size_t n, int workers)
{
	size_t d = 4 * (size_t)(workers > 0 ? workers : 1);

	return (n + d - 1) / d;
}

static void hex_digest(const uint8_t *d, char *out)
{
	for (int i = 0; i < DIGEST_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void print_human(const struct config *cfg, const struct words *w,
			const uint8_t *digests, const struct timing *t)
{
	double pool_s = t->map_s + t->set_s;
	double incl_s = t->create_s + pool_s + t->destroy_s;
	size_t cs = cfg->chunksize ? cfg->chunksize :
				     auto_chunksize(w->n, t->workers);
	char hex[2 * DIGEST_LEN + 1];

	hex_digest(digests, hex);
	printf("first line %.*s -> sha512 %.16s...\n",
	       (int)(w->lines[0].len - (g_text[w->lines[0].len - 1] == '\n')),
	       g_text, hex);
	printf("serial: Done, with %zu hashes in %.3f s\n", t->serial_count,
	       t->serial_s);
	printf("pool:   Done, with %zu hashes in %.3f s (%d workers, %s, "
	       "chunksize %zu; map %.3f s + set %.3f s)\n",
	       t->pool_count, pool_s, t->workers,
	       cfg->method == RP_START_FORK ? "fork" : "forkserver", cs,
	       t->map_s, t->set_s);
	printf("        %.3f s including pool start (%.1f ms) and stop "
	       "(%.1f ms)\n", incl_s, t->create_s * 1e3, t->destroy_s * 1e3);
	printf("speedup: %.2fx (%.2fx including pool start and stop)\n",
	       t->serial_s / pool_s, t->serial_s / incl_s);
	if (!cfg->openmp)
		return;
	if (t->omp_s > 0)
		printf("openmp: Done, with %zu hashes in %.3f s (%d threads, "
		       "omp parallel for): speedup %.2fx; the pool takes "
		       "%.2fx its time\n", t->omp_count, t->omp_s, t->workers,
		       t->serial_s / t->omp_s, pool_s / t->omp_s);
	else
		printf("openmp: not run (rp-hashwords was built without "
		       "OpenMP)\n");
}

static void print_json(const struct config *cfg, const struct words *w,
		       const struct timing *t)
{
	double pool_s = t->map_s + t->set_s;
	double incl_s = t->create_s + pool_s + t->destroy_s;

	printf("{\"test\": \"hashwords\", \"words\": %zu, \"workers\": %d, "
	       "\"serial_hashes\": %zu, \"pool_hashes\": %zu, "
	       "\"serial_s\": %.6f, \"pool_s\": %.6f, \"pool_map_s\": %.6f, "
	       "\"pool_set_s\": %.6f, \"create_ms\": %.3f, "
	       "\"destroy_ms\": %.3f, \"pool_incl_startup_s\": %.6f, "
	       "\"speedup\": %.4f, \"speedup_incl_startup\": %.4f",
	       w->n, t->workers, t->serial_count, t->pool_count, t->serial_s,
	       pool_s, t->map_s, t->set_s, t->create_s * 1e3,
	       t->destroy_s * 1e3, incl_s, t->serial_s / pool_s,
	       t->serial_s / incl_s);
	if (cfg->openmp && t->omp_s > 0)
		printf(", \"omp_s\": %.6f, \"omp_hashes\": %zu, "
		       "\"omp_threads\": %d, \"omp_speedup\": %.4f",
		       t->omp_s, t->omp_count, t->workers,
		       t->serial_s / t->omp_s);
	else if (cfg->openmp)
		printf(", \"omp_s\": null, \"omp_error\": \"rp-hashwords was "
		       "built without OpenMP\"");
	printf("}\n");
}

/* ---------------------------------------------------------------------- */
/* main                                                                   */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rp-hashwords [options] [WORDS_FILE]\n"
		"  SHA-512 of every line of WORDS_FILE (default: a generated\n"
		"  list of %d lines, %d distinct), serially and on a pool.\n"
		"  -w, --workers N      pool size (default: every usable CPU)\n"
		"  -c, --chunksize N    rp_map chunksize (default: automatic)\n"
		"      --forkserver     start workers from the zygote\n"
		"      --json           one JSON line instead of the report\n"
		"      --openmp         also time the loop under OpenMP\n"
		"      --write-words F  write the word list to F and stop\n",
		SEED_LINES, SEED_DISTINCT);
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "chunksize", required_argument, NULL, 'c' },
		{ "forkserver", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "openmp", no_argument, NULL, 'O' },
		{ "write-words", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "w:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			cfg->workers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cfg->chunksize = strtoull(optarg, NULL, 10);
			break;
		case 'F':
			cfg->method = RP_START_FORKSERVER;
			break;
		case 'j':
			cfg->json = true;
			break;
		case 'O':
			cfg->openmp = true;
			break;
		case 'W':
			cfg->write_path = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind + 1 < argc)
		return -EINVAL;
	cfg->path = optind < argc ? argv[optind] : NULL;
	return 0;
}

/*
 * The pool run's digest array: a mapping of its own, which the workers
 * (forked from this process, or from a zygote forked from it, at pool
 * creation) do not inherit.  Touched before the pool exists and
 * inherited, its pages would be shared copy-on-write with them, and the
 * owner's first write of each, as the digests come back, would copy the
 * page and flush the TLBs of this process's other threads: ~25 ms of
 * the pool's time for 64 MiB here.
 */
static uint8_t *digest_array(size_t n)
{
	size_t len = (n ? n : 1) * DIGEST_LEN;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_DONTFORK);
	return p;
}

/* Runs both ways and checks that they agree; returns the exit status. */
static int hash_both(const struct config *cfg, const struct words *w)
{
	uint8_t *serial = malloc((w->n ? w->n : 1) * DIGEST_LEN);
	uint8_t *pooled = digest_array(w->n);
	struct timing t = { 0 };
	int status = 1, err;

	/*
	 * Touch both digest arrays before any clock starts, so that neither
	 * run is charged for faulting in 64 MiB of fresh pages.
	 */
	if (serial && pooled) {
		memset(serial, 0, w->n * DIGEST_LEN);
		memset(pooled, 0, w->n * DIGEST_LEN);
	}
	if (!serial || !pooled || run_serial(w, serial, &t)) {
		fprintf(stderr, "rp-hashwords: out of memory\n");
		goto out;
	}
	if (run_pool(w, cfg, pooled, &t))
		goto out;
	status = 0;
	if (t.serial_count != t.pool_count ||
	    memcmp(serial, pooled, w->n * DIGEST_LEN) != 0) {
		fprintf(stderr, "rp-hashwords: MISMATCH: serial %zu hashes, "
			"pool %zu, digests %s\n", t.serial_count, t.pool_count,
			memcmp(serial, pooled, w->n * DIGEST_LEN) ? "differ" :
								     "equal");
		status = 1;
	}
	/* The pool's digests are checked: the OpenMP run reuses the array. */
	if (cfg->openmp) {
		memset(pooled, 0, w->n * DIGEST_LEN);
		err = run_openmp(w, pooled, &t);
		if (err && err != -ENOTSUP) {
			fprintf(stderr, "rp-hashwords: out of memory\n");
			status = 1;
			goto out;
		}
		if (!err && (t.omp_count != t.serial_count ||
			     memcmp(serial, pooled, w->n * DIGEST_LEN) != 0)) {
			fprintf(stderr, "rp-hashwords: MISMATCH: serial %zu "
				"hashes, OpenMP %zu\n", t.serial_count,
				t.omp_count);
			status = 1;
		}
	}
	if (cfg->json)
		print_json(cfg, w, &t);
	else
		print_human(cfg, w, serial, &t);
out:
	free(serial);
	if (pooled)
		munmap(pooled, (w->n ? w->n : 1) * DIGEST_LEN);
	return status;
}

int main(int argc, char **argv)
{
	/*
	 * fork by default, as seed 004's Pool on Linux: this process has one
	 * thread when the pool starts, and the workers then see the loaded
	 * words as they are.  --forkserver works too, because this pool is
	 * the first child this process starts, so the zygote's snapshot is
	 * taken after loading.
	 */
	struct config cfg = { .method = RP_START_FORK };
	struct words w = { 0 };
	double t0;
	int err, status;

	if (parse_args(argc, argv, &cfg)) {
		usage(stderr);
		return 2;
	}
	t0 = now_s();
	err = load_words(cfg.path, &w);
	if (err || w.n == 0) {
		fprintf(stderr, "rp-hashwords: %s: %s\n",
			cfg.path ? cfg.path : "generating",
			err ? rp_strerror(err) : "no lines");
		words_free(&w);
		return 1;
	}
	g_text = w.text;
	if (cfg.write_path) {
		err = write_words(cfg.write_path, &w);
		if (err)
			fprintf(stderr, "rp-hashwords: %s: %s\n",
				cfg.write_path, rp_strerror(err));
		words_free(&w);
		return err ? 1 : 0;
	}
	if (!cfg.json)
		printf("Loaded %zu words from %s in %.3f s; SHA-512 by nettle "
		       "%d.%d, set of 64-byte digests\n", w.n,
		       cfg.path ? cfg.path : "the generated list",
		       now_s() - t0, nettle_version_major(),
		       nettle_version_minor());
	status = hash_both(&cfg, &w);
	words_free(&w);
	return status;
}
