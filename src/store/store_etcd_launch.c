/* store_etcd_launch.c — real etcd members on 127.0.0.1 for tests and benchmarks (see
 * store_etcd_launch.h). */
#include "store_etcd_launch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/tide_json.h"
#include "common/util.h"

#define MEMBERS_MAX 5

struct member {
        pid_t pid;
        int client_port, peer_port;
        char *endpoint;
};

struct store_etcd_launch {
        char *dir;
        size_t n;
        struct member m[MEMBERS_MAX];
        char *url;
        char *cluster; /* --initial-cluster */
        int heartbeat_ms;
};

static const char *binary(void) {
        const char *e = getenv("TIDE_ETCD");
        return e && *e ? e : STORE_ETCD_BINARY;
}

bool store_etcd_launch_available(void) {
        return access(binary(), X_OK) == 0;
}

/* A port the kernel says is free now (another program may take it before etcd does: the start
 * is then tried again). */
static int free_port(void) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        if (bind(fd, (struct sockaddr *) &a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                return -errno;
        return ntohs(a.sin_port);
}

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static size_t body_write(char *data, size_t size, size_t n, void *userdata) {
        return strbuf_append(userdata, data, size * n) < 0 ? 0 : size * n;
}

/* POST /v3/maintenance/status {} to one endpoint; ret gets the reply. */
static int member_status(const char *endpoint, json_t **ret) {
        CURL *c = curl_easy_init();
        if (!c)
                return -ENOMEM;
        _cleanup_free_ char *url = xasprintf("%s/v3/maintenance/status", endpoint);
        struct strbuf b = STRBUF_INIT(1 << 20);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        CURLcode cr = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        json_t *j = cr == CURLE_OK && status == 200 ? json_loadb(strbuf_str(&b), b.len, 0, NULL) : NULL;
        strbuf_clear(&b);
        if (!json_is_object(j)) {
                json_decref(j);
                return TIDE_E_BACKEND;
        }
        *ret = j;
        return 0;
}

static pid_t spawn_member(struct store_etcd_launch *l, size_t i, const char *cluster, bool fresh) {
        struct member *m = &l->m[i];
        _cleanup_free_ char *name = xasprintf("m%zu", i);
        _cleanup_free_ char *data = xasprintf("%s/m%zu.data", l->dir, i);
        if (fresh)
                (void) rm_rf(data); /* a failed try's */
        _cleanup_free_ char *log = xasprintf("%s/m%zu.log", l->dir, i);
        _cleanup_free_ char *peer = xasprintf("http://127.0.0.1:%d", m->peer_port);
        _cleanup_free_ char *token = xasprintf("tide-test-%d", (int) getpid());
        char heartbeat[16], election[16];
        snprintf(heartbeat, sizeof heartbeat, "%d", l->heartbeat_ms);
        snprintf(election, sizeof election, "%d", l->heartbeat_ms * 10);
        const char *argv[] = {
                binary(),
                "--name",
                name,
                "--data-dir",
                data,
                "--listen-client-urls",
                m->endpoint,
                "--advertise-client-urls",
                m->endpoint,
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                cluster,
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                token,
                /* Values of STORE_VALUE_MAX in a request with its key and framing. */
                "--max-request-bytes",
                "3145728",
                "--logger",
                "zap",
                "--log-outputs",
                "stderr",
                "--heartbeat-interval",
                heartbeat,
                "--election-timeout",
                election,
                NULL,
        };
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if (pid == 0) {
                /* Dies with its test, even one that crashes. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
                    dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        close(fd);
        return pid;
}

/* Whether every live member answers with a leader; -ECHILD if one has exited. */
static int cluster_ready(struct store_etcd_launch *l) {
        for (size_t i = 0; i < l->n; i++) {
                int status;
                if (l->m[i].pid <= 0)
                        continue;
                if (waitpid(l->m[i].pid, &status, WNOHANG) == l->m[i].pid) {
                        l->m[i].pid = 0;
                        return -ECHILD;
                }
        }
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_json_ json_t *st = NULL;
                if (l->m[i].pid <= 0)
                        continue;
                if (member_status(l->m[i].endpoint, &st) < 0)
                        return 0;
                /* Member ids are uint64 in strings; "0" or none: no leader yet. */
                const char *leader = tide_json_str(st, "leader", "0");
                if (streq(leader, "0"))
                        return 0;
        }
        return 1;
}

static void stop_members(struct store_etcd_launch *l) {
        for (size_t i = 0; i < l->n; i++)
                (void) store_etcd_launch_kill(l, i);
}

/* One try with a fresh set of ports. */
static int start_once(struct store_etcd_launch *l) {
        struct strbuf cluster = STRBUF_INIT(0), url = STRBUF_INIT(0);
        for (size_t i = 0; i < l->n; i++) {
                struct member *m = &l->m[i];
                m->client_port = free_port();
                m->peer_port = free_port();
                if (m->client_port < 0 || m->peer_port < 0)
                        return -EADDRNOTAVAIL;
                free(m->endpoint);
                m->endpoint = xasprintf("http://127.0.0.1:%d", m->client_port);
                strbuf_printf(&cluster, "%sm%zu=http://127.0.0.1:%d", i ? "," : "", i, m->peer_port);
                strbuf_printf(&url, "%s%s", i ? "," : "etcd:", m->endpoint);
        }
        free(l->url);
        l->url = strbuf_steal(&url);
        int r = 0;
        for (size_t i = 0; i < l->n && r >= 0; i++) {
                pid_t pid = spawn_member(l, i, strbuf_str(&cluster), true);
                if (pid < 0)
                        r = pid;
                else
                        l->m[i].pid = pid;
        }
        free(l->cluster);
        l->cluster = strbuf_steal(&cluster);
        int64_t deadline = mono_ms() + 30000;
        while (r >= 0) {
                r = cluster_ready(l);
                if (r != 0)
                        break;
                if (mono_ms() > deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                sleep_ms(50);
        }
        if (r < 0)
                stop_members(l);
        return r < 0 ? r : 0;
}

int store_etcd_launch_start(size_t n, struct store_etcd_launch **ret) {
        return store_etcd_launch_start_timed(n, n == 1 ? 10 : 100, ret);
}

int store_etcd_launch_start_timed(size_t n, int heartbeat_ms, struct store_etcd_launch **ret) {
        if (n < 1 || n > MEMBERS_MAX || !ret || heartbeat_ms < 10 || heartbeat_ms > 100)
                return TIDE_E_INVALID;
        if (!store_etcd_launch_available())
                return -ENOENT;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *templ = xasprintf("%s/tide-etcd-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(templ))
                return -errno;
        struct store_etcd_launch *l = xcalloc(1, sizeof *l);
        l->dir = TAKE_PTR(templ);
        l->n = n;
        l->heartbeat_ms = heartbeat_ms;
        int r = -EAGAIN;
        /* A port taken between free_port() and etcd's bind makes a member exit: new ports. */
        for (int attempt = 0; attempt < 3 && r < 0; attempt++) {
                r = start_once(l);
                if (r == -ETIMEDOUT)
                        break;
        }
        if (r < 0) {
                fprintf(stderr, "etcd did not start (%s); logs in %s\n", strerror(-r), l->dir);
                for (size_t i = 0; i < l->n; i++)
                        free(l->m[i].endpoint);
                free(l->url);
                free(l->cluster);
                free(l->dir);
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

void store_etcd_launch_free(struct store_etcd_launch *l) {
        if (!l)
                return;
        stop_members(l);
        (void) rm_rf(l->dir);
        for (size_t i = 0; i < l->n; i++)
                free(l->m[i].endpoint);
        free(l->url);
        free(l->cluster);
        free(l->dir);
        free(l);
}

int store_etcd_launch_restart(struct store_etcd_launch *l, size_t i) {
        if (i >= l->n || l->m[i].pid > 0)
                return TIDE_E_INVALID;
        pid_t pid = spawn_member(l, i, l->cluster, false);
        if (pid < 0)
                return pid;
        l->m[i].pid = pid;
        int64_t deadline = mono_ms() + 30000;
        for (;;) {
                int r = cluster_ready(l);
                if (r != 0)
                        return r < 0 ? r : 0;
                if (mono_ms() > deadline)
                        return -ETIMEDOUT;
                sleep_ms(50);
        }
}

const char *store_etcd_launch_url(const struct store_etcd_launch *l) {
        return l->url;
}

const char *store_etcd_launch_endpoint(const struct store_etcd_launch *l, size_t i) {
        return i < l->n ? l->m[i].endpoint : NULL;
}

pid_t store_etcd_launch_pid(const struct store_etcd_launch *l, size_t i) {
        return i < l->n ? l->m[i].pid : 0;
}

int store_etcd_launch_kill(struct store_etcd_launch *l, size_t i) {
        if (i >= l->n)
                return TIDE_E_INVALID;
        pid_t pid = l->m[i].pid;
        if (pid <= 0)
                return 0;
        if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
                return -errno;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        l->m[i].pid = 0;
        return 0;
}

int store_etcd_launch_leader(const struct store_etcd_launch *l, size_t *ret_index) {
        /* Each member's id and the leader it knows; the leader is the live member whose id that
         * is (a dead member cannot answer, so a stale answer naming it is not taken). Ids are
         * uint64 in strings: compared as strings. */
        char *ids[MEMBERS_MAX] = {}, *leader = NULL;
        for (size_t i = 0; i < l->n; i++) {
                if (l->m[i].pid <= 0)
                        continue;
                _cleanup_json_ json_t *st = NULL;
                if (member_status(l->m[i].endpoint, &st) < 0)
                        continue;
                ids[i] = xstrdup(tide_json_str(json_object_get(st, "header"), "member_id", ""));
                const char *v = tide_json_str(st, "leader", "0");
                if (!streq(v, "0") && !leader)
                        leader = xstrdup(v);
        }
        int r = TIDE_E_NOT_FOUND;
        for (size_t i = 0; i < l->n; i++) {
                if (r < 0 && leader && ids[i] && streq(ids[i], leader)) {
                        *ret_index = i;
                        r = 0;
                }
                free(ids[i]);
        }
        free(leader);
        return r;
}
