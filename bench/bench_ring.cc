// SPDX-License-Identifier: MIT
//
// SPSC ring between two processes: throughput for 8- and 64-byte records,
// batched (publish every 64 records, consumer drains then releases once) and
// unbatched (publish and release per record), and ping-pong round trips over
// two rings with p50/p99.  The shapes mirror ../shared/baselines/spsc_shm.c
// so bench/ring_compare can set the two side by side: producer on CPU 0,
// consumer on CPU 1 when the machine has two; both sides spin.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <vector>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring.h"
#include "shm.h"

namespace {

constexpr uint32_t kCapacity = 1u << 16;
constexpr uint16_t kKind = 1;

uint64_t now_ns()
{
	timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Pin to cpu when the machine has two CPUs (not just those we are pinned to
// now: a child inherits its parent's pinning); false when left unpinned.
bool pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return false;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

// Shared control line next to the rings: start flag and the end time.
struct control {
	RP_ATOMIC(uint32_t) go;
	RP_ATOMIC(uint64_t) t_end;
};

// One or two rings and the control block in one memfd region.
struct region {
	rp_shm shm{};
	unsigned char *ring[2]{};
	control *ctl = nullptr;
	size_t ring_bytes = rp__ring_bytes(kCapacity);

	bool create()
	{
		if (rp__shm_create("rp-bench", 2 * ring_bytes + 64, 0, &shm) < 0)
			return false;
		ring[0] = static_cast<unsigned char *>(shm.addr);
		ring[1] = ring[0] + ring_bytes;
		ctl = reinterpret_cast<control *>(ring[1] + ring_bytes);
		return rp__ring_init(ring[0], ring_bytes, kCapacity) == 0 &&
		       rp__ring_init(ring[1], ring_bytes, kCapacity) == 0;
	}
	~region() { rp__shm_destroy(&shm); }
};

inline void put(void *dst, size_t bytes, uint64_t v)
{
	if (bytes == 8) {
		std::memcpy(dst, &v, 8);
		return;
	}
	uint64_t w[8];
	for (int i = 0; i < 8; i++)
		w[i] = v + uint64_t(i);
	std::memcpy(dst, w, 64);
}

inline uint64_t get(const void *src, size_t bytes)
{
	uint64_t w[8];

	if (bytes == 8) {
		std::memcpy(w, src, 8);
		return w[0];
	}
	std::memcpy(w, src, 64);
	return w[0] == w[7] - 7 ? w[0] : ~0ull;	// both ends touched
}

// Consumer child: drain n records, check their sum, stamp the end time.
template <size_t bytes, bool batch>
[[noreturn]] void consume(region &r, uint64_t n)
{
	rp_ring_consumer c;
	rp_ring_rec rec;
	uint64_t sum = 0, got = 0;

	pin(1);
	if (rp__ring_consumer_open(r.ring[0], r.ring_bytes, kKind, &c) < 0)
		_exit(2);
	while (!__atomic_load_n(&r.ctl->go, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
	while (got < n) {
		int ret = rp__ring_peek(&c, &rec);

		if (ret == -EAGAIN) {
			rp__ring_release(&c);
			__builtin_ia32_pause();
			continue;
		}
		if (ret < 0)
			_exit(4);
		sum += get(rec.data, bytes);
		rp__ring_consume(&c);
		got++;
		if (!batch)
			rp__ring_release(&c);
	}
	rp__ring_release(&c);
	__atomic_store_n(&r.ctl->t_end, now_ns(), __ATOMIC_RELEASE);
	_exit(sum == n * (n - 1) / 2 ? 0 : 3);
}

// Write record i: copied in with rp__ring_push(), or written in place
// (zero-copy) between rp__ring_reserve() and rp__ring_commit().
template <size_t bytes, bool zero_copy>
int write_record(rp_ring_producer &p, uint64_t i)
{
	unsigned char buf[bytes];
	void *dst;
	int ret;

	if (!zero_copy) {
		put(buf, bytes, i);
		return rp__ring_push(&p, kKind, buf, uint32_t(bytes));
	}
	ret = rp__ring_reserve(&p, kKind, uint32_t(bytes), &dst);
	if (ret < 0)
		return ret;
	put(dst, bytes, i);
	return rp__ring_commit(&p, uint32_t(bytes));
}

// Producer: n records, published every 64 (batch) or every one.
template <size_t bytes, bool batch, bool zero_copy>
bool produce(rp_ring_producer &p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int ret;

		while ((ret = write_record<bytes, zero_copy>(p, i)) == -ENOBUFS) {
			rp__ring_publish(&p);
			__builtin_ia32_pause();
		}
		if (ret < 0)
			return false;
		if (!batch || (i + 1) % 64 == 0)
			rp__ring_publish(&p);
	}
	rp__ring_publish(&p);
	return true;
}

// One timed transfer; returns seconds, or a negative number on failure.
template <size_t bytes, bool batch, bool zero_copy = false>
double transfer(uint64_t n)
{
	region r;
	rp_ring_producer p;
	int status;

	if (!r.create() || rp__ring_producer_open(r.ring[0], r.ring_bytes, &p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		consume<bytes, batch>(r, n);
	pin(0);
	usleep(20000);	// let the child reach its start line, as the baseline
	uint64_t t0 = now_ns();
	__atomic_store_n(&r.ctl->go, 1, __ATOMIC_RELEASE);
	bool ok = produce<bytes, batch, zero_copy>(p, n);
	waitpid(pid, &status, 0);
	if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return double(__atomic_load_n(&r.ctl->t_end, __ATOMIC_ACQUIRE) - t0) / 1e9;
}

void restore_affinity(const cpu_set_t &saved)
{
	sched_setaffinity(0, sizeof(saved), &saved);
}

// Args: record bytes (8 or 64), batched (1) or per record (0), and
// zero-copy (reserve/commit) rather than rp__ring_push().
void BM_RingTput(benchmark::State &state)
{
	size_t bytes = size_t(state.range(0));
	bool batch = state.range(1) != 0;
	bool zc = state.range(2) != 0;
	uint64_t n = bytes == 8 ? 50000000 : 20000000;
	cpu_set_t saved;

	if (!batch)
		n /= 5;
	sched_getaffinity(0, sizeof(saved), &saved);
	for (auto _ : state) {
		double sec = zc ? (bytes == 8 ? transfer<8, true, true>(n) :
						transfer<64, true, true>(n)) :
			     bytes == 8 ? (batch ? transfer<8, true>(n) :
						   transfer<8, false>(n)) :
					  (batch ? transfer<64, true>(n) :
						   transfer<64, false>(n));

		if (sec < 0) {
			state.SkipWithError("transfer failed");
			break;
		}
		state.SetIterationTime(sec);
	}
	restore_affinity(saved);
	state.SetItemsProcessed(int64_t(state.iterations() * n));
	state.SetBytesProcessed(int64_t(state.iterations() * n * bytes));
}

// Echo side of the ping-pong: ab in, ba out.
[[noreturn]] void echo(region &r, uint64_t n)
{
	rp_ring_consumer in;
	rp_ring_producer out;
	rp_ring_rec rec;

	pin(1);
	if (rp__ring_consumer_open(r.ring[0], r.ring_bytes, kKind, &in) < 0 ||
	    rp__ring_producer_open(r.ring[1], r.ring_bytes, &out) < 0)
		_exit(2);
	for (uint64_t i = 0; i < n; i++) {
		while (rp__ring_peek(&in, &rec) == -EAGAIN)
			__builtin_ia32_pause();
		uint64_t v = get(rec.data, 8);
		rp__ring_consume(&in);
		rp__ring_release(&in);
		if (rp__ring_push(&out, kKind, &v, 8) < 0)
			_exit(3);
		rp__ring_publish(&out);
	}
	_exit(0);
}

// Round trips: send i on ab, spin for the echo on ba; latency per message.
bool pingpong(region &r, uint64_t warm, std::vector<uint64_t> &lat)
{
	rp_ring_producer out;
	rp_ring_consumer in;
	rp_ring_rec rec;

	if (rp__ring_producer_open(r.ring[0], r.ring_bytes, &out) < 0 ||
	    rp__ring_consumer_open(r.ring[1], r.ring_bytes, kKind, &in) < 0)
		return false;
	for (uint64_t i = 0; i < warm + lat.size(); i++) {
		uint64_t t0 = now_ns();

		if (rp__ring_push(&out, kKind, &i, 8) < 0)
			return false;
		rp__ring_publish(&out);
		while (rp__ring_peek(&in, &rec) == -EAGAIN)
			__builtin_ia32_pause();
		uint64_t v = get(rec.data, 8);
		rp__ring_consume(&in);
		rp__ring_release(&in);
		uint64_t t1 = now_ns();
		if (v != i)
			return false;
		if (i >= warm)
			lat[i - warm] = t1 - t0;
	}
	return true;
}

void BM_RingPingPong(benchmark::State &state)
{
	const uint64_t warm = 10000, n = uint64_t(state.range(0));
	std::vector<uint64_t> lat(n);
	cpu_set_t saved;
	int status;

	sched_getaffinity(0, sizeof(saved), &saved);
	for (auto _ : state) {
		region r;

		if (!r.create()) {
			state.SkipWithError("shm");
			break;
		}
		pid_t pid = fork();
		if (pid == 0)
			echo(r, warm + n);
		pin(0);
		uint64_t t0 = now_ns();
		bool ok = pingpong(r, warm, lat);
		uint64_t t1 = now_ns();
		if (!ok)
			kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			state.SkipWithError("ping-pong failed");
			break;
		}
		state.SetIterationTime(double(t1 - t0) / 1e9);
	}
	restore_affinity(saved);
	std::sort(lat.begin(), lat.end());
	state.counters["p50_ns"] = double(lat[n / 2]);
	state.counters["p99_ns"] = double(lat[n * 99 / 100]);
	state.counters["min_ns"] = double(lat[0]);
	state.SetItemsProcessed(int64_t(state.iterations() * (n + warm)));
}

}  // namespace

BENCHMARK(BM_RingTput)
	->ArgNames({"bytes", "batch", "zc"})
	->Args({8, 1, 0})->Args({8, 0, 0})->Args({64, 1, 0})->Args({64, 0, 0})
	->Args({8, 1, 1})->Args({64, 1, 1})
	->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RingPingPong)
	->ArgName("n")->Arg(1000000)
	->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
