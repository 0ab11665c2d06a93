/* The Prometheus text of fixed inputs.
 *
 *   test_metrics_prom                     compares each case's text with tests/metrics/<case>.prom
 *                                         (TIDE_GOLDEN_UPDATE=1 rewrites the files instead)
 *   test_metrics_prom --promtool PATH     feeds each case's text to `PATH check metrics`, the
 *                                         Prometheus project's own parser and linter; exits 77
 *                                         (skipped) when PATH is empty or not executable */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "metrics/metrics.h"

#ifndef TIDE_METRICS_GOLDEN_DIR
#error "TIDE_METRICS_GOLDEN_DIR must name tests/metrics"
#endif

#define S_NS INT64_C(1000000000)
#define GIB_KIB (INT64_C(1) << 20)

extern char **environ;

/* Two hosts: node-1 with web (busy, guest memory reported, hot-added to 3 of 4 vCPUs),
 * db (idle, no guest figures) and old (shut off); node-2 with cache, sampled once. */
static struct metrics *case_basic(void) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h = {
                .host = "node-1",
                .cpus = 8,
                .cpu_user_ns = 1000 * S_NS,
                .cpu_system_ns = 200 * S_NS,
                .cpu_idle_ns = 5000 * S_NS,
                .cpu_iowait_ns = 10 * S_NS,
                .mem_total_kib = 32 * GIB_KIB,
                .mem_free_kib = 20 * GIB_KIB,
                .mem_available_kib = 24 * GIB_KIB,
                .load1 = 2.5,
                .load5 = 1.75,
                .load15 = 0.5,
        };
        struct metrics_vm_sample v[3] = {
                {
                        .id = "6f1c2a9e-8d3b-4c1e-9a7f-0b2d4e6f8a10",
                        .name = "web",
                        .running = true,
                        .cpu_time_ns = 600 * S_NS,
                        .vcpus = 3,
                        .vcpus_max = 4,
                        .n_vcpu = 3,
                        .vcpu_time_ns = { 300 * S_NS, 280 * S_NS, 10 * S_NS },
                        .vcpu_wait_ns = { 20 * S_NS, 18 * S_NS, 0 },
                        .balloon_current_kib = 2 * GIB_KIB,
                        .balloon_max_kib = 4 * GIB_KIB,
                        .has_guest_mem = true,
                        .mem_available_kib = 2 * GIB_KIB - 51200,
                        .mem_unused_kib = 1 * GIB_KIB,
                        .mem_usable_kib = 3 * GIB_KIB / 2,
                        .mem_rss_kib = 2 * GIB_KIB + 40960,
                        .block_rd_bytes = 123456789,
                        .block_wr_bytes = 987654321,
                        .block_rd_reqs = 4567,
                        .block_wr_reqs = 8910,
                        .net_rx_bytes = 1000000,
                        .net_tx_bytes = 2000000,
                        .net_rx_packets = 1500,
                        .net_tx_packets = 2500,
                },
                {
                        .id = "0a3e5b7c-1d2f-4a6b-8c9d-e0f1a2b3c4d5",
                        .name = "db",
                        .running = true,
                        .cpu_time_ns = 50 * S_NS,
                        .vcpus = 1,
                        .vcpus_max = 2,
                        .n_vcpu = 1,
                        .vcpu_time_ns = { 45 * S_NS },
                        .vcpu_wait_ns = { S_NS / 2 },
                        .balloon_current_kib = 1 * GIB_KIB,
                        .balloon_max_kib = 1 * GIB_KIB,
                },
                {
                        .id = "ffffffff-0000-4000-8000-000000000001",
                        .name = "old",
                        .running = false,
                        .vcpus = 1,
                        .vcpus_max = 1,
                        .n_vcpu = 0,
                        .balloon_current_kib = 512 * 1024,
                        .balloon_max_kib = 512 * 1024,
                },
        };
        metrics_record(m, 1700000000000, &h, v, 3);

        /* one second later: web used 2.5 cores with 0.75 waiting; db 0.1 */
        h.cpu_user_ns += 2 * S_NS;
        h.cpu_system_ns += S_NS / 2;
        h.cpu_idle_ns += 5 * S_NS + S_NS / 2;
        h.cpu_iowait_ns += S_NS / 100;
        h.load1 = 2.75;
        v[0].cpu_time_ns += 5 * S_NS / 2;
        v[0].vcpu_time_ns[0] += S_NS * 95 / 100;
        v[0].vcpu_time_ns[1] += S_NS * 90 / 100;
        v[0].vcpu_time_ns[2] += S_NS * 60 / 100;
        v[0].vcpu_wait_ns[0] += S_NS * 40 / 100;
        v[0].vcpu_wait_ns[1] += S_NS * 35 / 100;
        v[0].mem_unused_kib -= 1024;
        v[0].block_wr_bytes += 4096;
        v[0].net_rx_bytes += 1500;
        v[0].net_rx_packets += 1;
        v[1].cpu_time_ns += S_NS / 10;
        v[1].vcpu_time_ns[0] += S_NS / 10;
        metrics_record(m, 1700000001000, &h, v, 3);
        metrics_set_elastic(m, v[0].id, 3.25, 3.0);
        metrics_set_elastic(m, v[1].id, 0.1, 2.0);
        metrics_count_action(m, v[0].id, "vcpus");
        metrics_count_action(m, v[0].id, "shares");
        metrics_count_action(m, v[0].id, "shares");

        struct metrics_host_sample h2 = {
                .host = "node-2",
                .cpus = 4,
                .cpu_user_ns = 10 * S_NS,
                .cpu_idle_ns = 100 * S_NS,
                .mem_total_kib = 8 * GIB_KIB,
                .mem_free_kib = 6 * GIB_KIB,
                .mem_available_kib = 7 * GIB_KIB,
                .load1 = 0.25,
                .load5 = 0.125,
                .load15 = 0,
        };
        struct metrics_vm_sample c = {
                .id = "11111111-2222-4333-8444-555555555555",
                .name = "cache",
                .running = true,
                .cpu_time_ns = 3 * S_NS,
                .vcpus = 1,
                .vcpus_max = 1,
                .n_vcpu = 1,
                .vcpu_time_ns = { 3 * S_NS },
                .balloon_current_kib = GIB_KIB / 2,
                .balloon_max_kib = GIB_KIB / 2,
                .mem_rss_kib = 300 * 1024,
        };
        metrics_record(m, 1700000000500, &h2, &c, 1);
        return m;
}

/* Names and kinds with everything the format must escape, and bytes that are not UTF-8. */
static struct metrics *case_escaping(void) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h = {
                .host = "rack \"7\"\\node\n3",
                .cpus = 2,
                .mem_total_kib = GIB_KIB,
        };
        struct metrics_vm_sample v[] = {
                { .id = "id-quote", .name = "say \"hi\"", .running = true, .vcpus = 1, .vcpus_max = 1 },
                { .id = "id-backslash", .name = "C:\\vm\\", .running = true, .vcpus = 1, .vcpus_max = 1 },
                { .id = "id-newline", .name = "two\nlines\n", .running = true, .vcpus = 1, .vcpus_max = 1 },
                { .id = "id-utf8", .name = "caf\xc3\xa9-\xe6\x97\xa5", .running = true, .vcpus = 1, .vcpus_max = 1 },
                { .id = "id-latin1", .name = "caf\xe9", .running = true, .vcpus = 1, .vcpus_max = 1 },
                { .id = "id-empty", .name = "", .running = true, .vcpus = 1, .vcpus_max = 1 },
        };
        metrics_record(m, 1000, &h, v, ELEMENTSOF(v));
        metrics_count_action(m, "id-quote", "odd \"kind\"\\\n");
        return m;
}

static const struct {
        const char *name;
        struct metrics *(*build)(void);
} cases[] = {
        { "basic", case_basic },
        { "escaping", case_escaping },
};

static char *case_text(size_t i) {
        struct metrics *m = cases[i].build();
        char *text = NULL;
        assert_int_equal(metrics_prometheus(m, &text), 0);
        metrics_free(m);
        return text;
}

static void test_golden(void **state) {
        bool update = getenv("TIDE_GOLDEN_UPDATE") && streq(getenv("TIDE_GOLDEN_UPDATE"), "1");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = case_text(i);
                _cleanup_free_ char *path = xasprintf("%s/%s.prom", TIDE_METRICS_GOLDEN_DIR, cases[i].name);
                if (update) {
                        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
                        printf("%s: rewritten\n", path);
                        continue;
                }
                _cleanup_free_ char *want = NULL;
                size_t len;
                int r = read_file(path, 1 << 20, &want, &len);
                if (r < 0)
                        fail_msg("%s: %s (run with TIDE_GOLDEN_UPDATE=1)", path, tide_strerror(r));
                if (!streq(want, text)) {
                        printf("%s differs; the text now:\n%s", path, text);
                        fail_msg("%s: the text differs (TIDE_GOLDEN_UPDATE=1 rewrites it; review the diff)", path);
                }
        }
}

/* Runs `promtool check metrics` with text on its stdin; returns its exit status or -errno. */
static int promtool_check(const char *promtool, const char *text) {
        char tmpl[] = "/tmp/tide-metrics-XXXXXX";
        _cleanup_close_ int fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        unlink(tmpl); /* the open descriptor is all the child needs */
        size_t len = strlen(text);
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, text + off, len - off);
                if (n < 0)
                        return -errno;
                off += (size_t) n;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fd, STDIN_FILENO);
        char *argv[] = { (char *) promtool, (char *) "check", (char *) "metrics", NULL };
        pid_t pid;
        int r = posix_spawn(&pid, promtool, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return -r;
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_promtool(const char *promtool) {
        if (!promtool[0] || access(promtool, X_OK) < 0) {
                printf("promtool not found (Debian package prometheus): skipped\n");
                return 77;
        }
        int failed = 0;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct metrics *m = cases[i].build();
                _cleanup_free_ char *text = NULL;
                if (metrics_prometheus(m, &text) < 0) {
                        metrics_free(m);
                        return 1;
                }
                metrics_free(m);
                fflush(stdout);
                int r = promtool_check(promtool, text);
                printf("%s: promtool check metrics: %s%d\n", cases[i].name, r < 0 ? "error " : "exit ", r);
                if (r != 0)
                        failed = 1;
        }
        return failed;
}

int main(int argc, char **argv) {
        if (argc == 3 && streq(argv[1], "--promtool"))
                return run_promtool(argv[2]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
