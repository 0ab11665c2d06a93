/*
 * tide-load: the tiny guest's load generator.
 *
 *   tide-load [--cpu PCT] [--threads N] [--mem MIB] [--duration S]
 *
 * Each worker thread keeps PCT percent of one CPU busy, in 100 ms periods:
 * it does fixed-size work units until its share of the period is used, then
 * sleeps for the rest.  Without --threads the number of workers follows the
 * online CPUs, so CPUs hot-added to the guest are loaded too (and workers
 * above a shrunken count idle).  --mem allocates and touches MIB MiB and keeps
 * re-dirtying them, a slice every second.
 *
 * Every second it prints
 *   TIDE-LOAD t=S work=W rate=R threads=T mem_mib=M
 * (W: work units since start; R: units per second over the last interval;
 * T: running workers; M: MiB allocated and touched) and at the end
 *   TIDE-LOAD done work=W
 * Benchmarks read these lines from the serial console to measure throughput.
 *
 * Exit status: 0 when the duration has passed or on SIGINT/SIGTERM, 1 when
 * the load cannot be set up, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000ULL
#define LOAD_PERIOD_NS (100ULL * 1000 * 1000) /* duty-cycle period */
#define LOAD_UNIT_ITERS 100000                /* iterations in a work unit */
#define LOAD_MAX_THREADS 1024
#define LOAD_MAX_MEM_MIB (1L << 20) /* 1 TiB */
#define LOAD_MAX_DURATION (366L * 24 * 3600)
#define LOAD_RETOUCH_FRACTION 8 /* re-dirty 1/8 of pages a second */

struct load_opts {
        long cpu_pct; /* percent of one CPU per worker */
        long threads; /* 0: follow the online CPUs */
        long mem_mib;
        long duration_s; /* 0: forever */
};

struct load_worker {
        pthread_t tid;
        int idx;
        int cpu_pct;
};

static atomic_ullong load_work; /* work units done by all workers */
static atomic_int load_active;  /* workers with idx below this run */
static atomic_bool load_stop;
static atomic_ullong load_sink; /* keeps the work from being optimised away */
static volatile sig_atomic_t load_signalled;

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

/* Sleeps until the monotonic time t; returns early only on a signal. */
static void sleep_until(uint64_t t) {
        struct timespec ts = {
                .tv_sec = (time_t) (t / NSEC_PER_SEC),
                .tv_nsec = (long) (t % NSEC_PER_SEC),
        };

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                if (load_signalled)
                        return;
}

/* One work unit: a fixed number of steps of a 64-bit LCG.  The empty asm
 * makes every step happen, so a unit costs the same whatever the compiler. */
static uint64_t work_unit(uint64_t x) {
        for (int i = 0; i < LOAD_UNIT_ITERS; i++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                __asm__ volatile("" : "+r"(x));
        }
        return x;
}

static void *worker_main(void *arg) {
        const struct load_worker *w = arg;
        uint64_t x = (uint64_t) w->idx + 1;
        uint64_t period = now_ns();

        while (!atomic_load(&load_stop)) {
                uint64_t busy_until, t;

                if (w->idx >= atomic_load(&load_active) || w->cpu_pct == 0) {
                        sleep_until(now_ns() + LOAD_PERIOD_NS);
                        period = now_ns();
                        continue;
                }

                busy_until = period + LOAD_PERIOD_NS * (uint64_t) w->cpu_pct / 100;
                do {
                        x = work_unit(x);
                        atomic_fetch_add_explicit(&load_work, 1, memory_order_relaxed);
                } while (now_ns() < busy_until && !atomic_load(&load_stop));

                period += LOAD_PERIOD_NS;
                if (w->cpu_pct < 100)
                        sleep_until(period);
                /* Preempted for longer than a period (a busy host, a paused
                 * vCPU): start afresh rather than make up for lost time. */
                t = now_ns();
                if (t > period + LOAD_PERIOD_NS)
                        period = t;
        }
        atomic_fetch_xor(&load_sink, x);
        return NULL;
}

static void on_signal(int sig) {
        (void) sig;
        load_signalled = 1;
}

static void usage(FILE *f) {
        fputs("Usage: tide-load [--cpu PCT] [--threads N] [--mem MIB] [--duration S]\n"
              "\n"
              "  --cpu PCT       percent of one CPU per thread, 0..100 (default 100)\n"
              "  --threads N     worker threads, 1..1024 (default: the online CPUs,\n"
              "                  followed as CPUs are hot-added or removed)\n"
              "  --mem MIB       allocate, touch and keep dirtying MIB MiB (default 0)\n"
              "  --duration S    stop after S seconds (default 0: run until killed)\n"
              "\n"
              "Prints 'TIDE-LOAD t=S work=W rate=R threads=T mem_mib=M' every second\n"
              "and 'TIDE-LOAD done work=W' at the end.\n",
              f);
}

/* Parses a decimal integer in [min, max] into *ret_v. */
static int parse_long(const char *s, long min, long max, long *ret_v) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
                return -EINVAL;
        *ret_v = v;
        return 0;
}

static int parse_args(int argc, char **argv, struct load_opts *ret_opts) {
        static const struct option longopts[] = {
                { "cpu", required_argument, NULL, 'c' }, { "threads", required_argument, NULL, 't' },
                { "mem", required_argument, NULL, 'm' }, { "duration", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },      {}
        };
        struct load_opts o = { .cpu_pct = 100 };
        int c;

        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                const char *name;
                long min, max, *dst;

                switch (c) {
                case 'c':
                        name = "--cpu";
                        min = 0;
                        max = 100;
                        dst = &o.cpu_pct;
                        break;
                case 't':
                        name = "--threads";
                        min = 1;
                        max = LOAD_MAX_THREADS;
                        dst = &o.threads;
                        break;
                case 'm':
                        name = "--mem";
                        min = 0;
                        max = LOAD_MAX_MEM_MIB;
                        dst = &o.mem_mib;
                        break;
                case 'd':
                        name = "--duration";
                        min = 0;
                        max = LOAD_MAX_DURATION;
                        dst = &o.duration_s;
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_SUCCESS);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
                if (parse_long(optarg, min, max, dst) < 0) {
                        fprintf(stderr, "tide-load: %s: expected an integer in %ld..%ld, got '%s'\n", name, min, max,
                                optarg);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "tide-load: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return -EINVAL;
        }
        *ret_opts = o;
        return 0;
}

static int online_cpus(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        if (n < 1)
                return 1;
        return n > LOAD_MAX_THREADS ? LOAD_MAX_THREADS : (int) n;
}

/* Starts workers up to n (signals stay with the main thread); returns the
 * number of workers that exist. */
static int spawn_workers(struct load_worker *workers, int have, int n, int cpu_pct) {
        sigset_t all, old;

        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (; have < n; have++) {
                int r;

                workers[have].idx = have;
                workers[have].cpu_pct = cpu_pct;
                r = pthread_create(&workers[have].tid, NULL, worker_main, &workers[have]);
                if (r != 0) {
                        fprintf(stderr, "tide-load: starting thread %d: %s\n", have, strerror(r));
                        break;
                }
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return have;
}

int main(int argc, char **argv) {
        static struct load_worker workers[LOAD_MAX_THREADS];
        struct load_opts o;
        struct sigaction sa = { .sa_handler = on_signal };
        unsigned char *mem = NULL;
        size_t mem_size = 0, pages = 0, page_size, cursor = 0;
        unsigned long long last_work = 0;
        uint64_t start, last;
        int have, active;

        if (parse_args(argc, argv, &o) < 0)
                return 2;

        setvbuf(stdout, NULL, _IOLBF, 0);
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        page_size = (size_t) sysconf(_SC_PAGESIZE);
        if (o.mem_mib > 0) {
                mem_size = (size_t) o.mem_mib << 20;
                mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (mem == MAP_FAILED) {
                        fprintf(stderr, "tide-load: allocating %ld MiB: %s\n", o.mem_mib, strerror(errno));
                        return 1;
                }
                memset(mem, 0x5a, mem_size);
                pages = mem_size / page_size;
        }

        active = o.threads > 0 ? (int) o.threads : online_cpus();
        atomic_store(&load_active, active);
        have = spawn_workers(workers, 0, active, (int) o.cpu_pct);
        if (have == 0)
                return 1;

        start = last = now_ns();
        while (!load_signalled) {
                uint64_t now, elapsed_s;
                unsigned long long work, rate;

                /* Next whole second since start; ticks missed on a busy host
                 * are skipped rather than printed in a burst. */
                elapsed_s = (now_ns() - start) / NSEC_PER_SEC + 1;
                sleep_until(start + elapsed_s * NSEC_PER_SEC);
                if (load_signalled)
                        break;

                if (o.threads == 0) {
                        active = online_cpus();
                        if (active > have)
                                have = spawn_workers(workers, have, active, (int) o.cpu_pct);
                        if (active > have)
                                active = have;
                        atomic_store(&load_active, active);
                }

                for (size_t i = 0; i < (pages + LOAD_RETOUCH_FRACTION - 1) / LOAD_RETOUCH_FRACTION; i++) {
                        mem[cursor * page_size]++;
                        cursor = (cursor + 1) % pages;
                }

                now = now_ns();
                work = atomic_load(&load_work);
                rate = (unsigned long long) ((double) (work - last_work) * NSEC_PER_SEC / (double) (now - last) + 0.5);
                last_work = work;
                last = now;
                printf("TIDE-LOAD t=%llu work=%llu rate=%llu threads=%d mem_mib=%ld\n", (unsigned long long) elapsed_s,
                       work, rate, active, o.mem_mib);

                if (o.duration_s > 0 && elapsed_s >= (uint64_t) o.duration_s)
                        break;
        }

        atomic_store(&load_stop, true);
        for (int i = 0; i < have; i++)
                pthread_join(workers[i].tid, NULL);
        printf("TIDE-LOAD done work=%llu\n", (unsigned long long) atomic_load(&load_work));
        if (mem)
                munmap(mem, mem_size);
        return 0;
}
