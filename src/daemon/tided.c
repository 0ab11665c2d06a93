/* tided — tide's daemon: on one host it runs the API, the agent and (later) the controllers on
 * the embedded SQLite store and libvirt's embedded QEMU driver. Logs to stderr; SIGTERM or SIGINT
 * stop it cleanly and leave the VMs running. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "agent/hv.h"
#include "api/api.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/util.h"
#include "ctl/autoscaler.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "sched/sched_cache.h"
#include "sched/sched_store.h"
#include "store/store.h"

#define DEFAULT_STATE_DIR "/var/lib/tide"
#define SIM_HOSTS_MAX 10000

/* Placement's bookkeeping, which the agent is given (agent.h). */
static const struct agent_placement agent_placement = {
        .instance_delete = sched_store_delete,
        .shared_pools = sched_store_shared_pools,
};

static void usage(FILE *f) {
        fputs("Usage: tided [OPTIONS]\n"
              "\n"
              "Runs tide on this host: the API, the agent and the controllers.\n"
              "\n"
              "Options:\n"
              "  --state-dir DIR       where tided keeps its store, images, instances and socket\n"
              "                        (default " DEFAULT_STATE_DIR ")\n"
              "  --listen ADDR:PORT    TCP address of the API (default " API_DEFAULT_LISTEN "); 'none' for none\n"
              "  --libvirt-uri URI     libvirt connection (default: qemu:///system where libvirtd\n"
              "                        answers, else the embedded driver under STATE/libvirt)\n"
              "  --store URL           store (default sqlite:STATE/store.db)\n"
              "  --host-name NAME      this host's name in the pool (default: the hostname)\n"
              "  --shutdown-timeout S  seconds a guest gets to shut down before power-off (default 30)\n"
              "  --sim-hosts N         run N simulated hosts (sim-1 ... sim-N, no VMs) instead of this\n"
              "                        machine's hypervisor: for tests and benchmarks of placement\n"
              "  --sim-shape SHAPE     the simulated hosts' shape, e.g. cpus=64,numa=2,mem_mib=262144,\n"
              "                        hugepages_mib=0,disk_gib=2000\n"
              "  --debug               log debug messages\n"
              "  -h, --help            show this help\n",
              f);
}

static int ensure_token(const char *state_dir, char **ret) {
        _cleanup_free_ char *path = xasprintf("%s/admin.token", state_dir);
        char *tok = NULL;
        int r = read_file(path, 4096, &tok, NULL);
        if (r >= 0) {
                tok[strcspn(tok, "\r\n")] = 0;
                if (strlen(tok) >= 16) {
                        *ret = tok;
                        return 0;
                }
                free(tok);
                return log_error_errno(TIDE_E_INVALID, "%s holds no valid token; remove it to make a new one", path);
        }
        if (r != -ENOENT)
                return log_error_errno(r, "reading %s: %m", path);
        tok = id_new_token(32);
        _cleanup_free_ char *line = xasprintf("%s\n", tok);
        r = write_file_atomic(path, line, strlen(line), 0600);
        if (r < 0) {
                free(tok);
                return log_error_errno(r, "writing %s: %m", path);
        }
        log_info("admin token written to %s", path);
        *ret = tok;
        return 0;
}

int main(int argc, char **argv) {
        enum { OPT_STATE = 256, OPT_LISTEN, OPT_URI, OPT_STORE, OPT_HOST, OPT_SHUTDOWN, OPT_DEBUG, OPT_SIM_HOSTS,
               OPT_SIM_SHAPE };
        static const struct option opts[] = {
                { "state-dir", required_argument, NULL, OPT_STATE },
                { "listen", required_argument, NULL, OPT_LISTEN },
                { "libvirt-uri", required_argument, NULL, OPT_URI },
                { "store", required_argument, NULL, OPT_STORE },
                { "host-name", required_argument, NULL, OPT_HOST },
                { "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN },
                { "debug", no_argument, NULL, OPT_DEBUG },
                { "sim-hosts", required_argument, NULL, OPT_SIM_HOSTS },
                { "sim-shape", required_argument, NULL, OPT_SIM_SHAPE },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *state_arg = DEFAULT_STATE_DIR, *listen = API_DEFAULT_LISTEN, *uri = NULL, *store_url = NULL;
        const char *host_arg = NULL;
        int64_t shutdown_s = 30, sim_hosts = 0;
        const char *sim_shape = "cpus=16,numa=2,mem_mib=65536,disk_gib=1000";
        int c;
        log_set_ident("tided");

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case OPT_STATE: state_arg = optarg; break;
                case OPT_LISTEN: listen = streq(optarg, "none") ? NULL : optarg; break;
                case OPT_URI: uri = optarg; break;
                case OPT_STORE: store_url = optarg; break;
                case OPT_HOST: host_arg = optarg; break;
                case OPT_SHUTDOWN:
                        if (parse_int64(optarg, 1, 3600, &shutdown_s) < 0) {
                                fprintf(stderr, "tided: --shutdown-timeout needs seconds from 1 to 3600\n");
                                return 2;
                        }
                        break;
                case OPT_DEBUG: log_set_level(LOG_LVL_DEBUG); break;
                case OPT_SIM_HOSTS:
                        if (parse_int64(optarg, 1, SIM_HOSTS_MAX, &sim_hosts) < 0) {
                                fprintf(stderr, "tided: --sim-hosts needs a count from 1 to %d\n", SIM_HOSTS_MAX);
                                return 2;
                        }
                        break;
                case OPT_SIM_SHAPE: sim_shape = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "tided: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return 2;
        }

        char hostname[256] = "";
        if (!host_arg) {
                gethostname(hostname, sizeof hostname - 1);
                host_arg = hostname;
        }
        if (!model_name_valid(host_arg)) {
                fprintf(stderr, "tided: host name '%s' is not a valid name; pass --host-name\n", host_arg);
                return 2;
        }

        int r = mkdir_p(state_arg, 0755);
        if (r < 0) {
                log_error_errno(r, "creating %s: %m", state_arg);
                return 1;
        }
        _cleanup_free_ char *state_dir = realpath(state_arg, NULL);
        if (!state_dir) {
                log_error_errno(-errno, "resolving %s: %m", state_arg);
                return 1;
        }
        (void) chmod(state_dir, 0755);

        /* libvirt logs every error it raises, also those tided expects and handles (a domain
         * already gone); the driver hands them to tided, which logs what matters once. libvirt's
         * own log goes to a file, set before any thread starts. */
        _cleanup_free_ char *libvirt_log = xasprintf("4:file:%s/libvirt.log", state_dir);
        setenv("LIBVIRT_LOG_OUTPUTS", libvirt_log, 0);

        /* Signals are taken by sigwait in this thread only; every other thread inherits the mask. */
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);

        _cleanup_free_ char *token = NULL;
        _cleanup_free_ char *default_store = xasprintf("sqlite:%s/store.db", state_dir);
        _cleanup_free_ char *sock = xasprintf("%s/tided.sock", state_dir);
        struct store *store = NULL;
        struct hv_conn *hv = NULL;
        struct hv_conn **sims = NULL;
        struct agent_host_config *hosts = NULL;
        size_t n_hosts = 0;
        struct agent *agent = NULL;
        struct api *api = NULL;
        struct autoscaler *autoscaler = NULL;
        struct sched_cache *sched_cache = NULL;
        struct metrics *metrics = metrics_new(0);
        struct agent_config acfg;
        struct api_config cfg;
        int ret = 1;

        if (ensure_token(state_dir, &token) < 0)
                goto out;
        r = store_open(store_url ? store_url : default_store, &store);
        if (r < 0) {
                log_error_errno(r, "opening the store %s: %m", store_url ? store_url : default_store);
                goto out;
        }
        /* Placement's view of the hosts, shared by the API's threads and the autoscaler's. */
        (void) sched_cache_new(store, &sched_cache);
        if (sim_hosts > 0) {
                /* Simulated hosts stand in for this machine's hypervisor. */
                sims = xcalloc((size_t) sim_hosts, sizeof *sims);
                hosts = xcalloc((size_t) sim_hosts, sizeof *hosts);
                _cleanup_free_ char *query = xstrdup(sim_shape);
                for (char *p = query; *p; p++)
                        if (*p == ',')
                                *p = '&';
                for (int64_t i = 0; i < sim_hosts; i++) {
                        _cleanup_free_ char *sim_uri = xasprintf("sim:///sim-%lld?%s", (long long) i + 1, query);
                        r = hv_sim_driver.open(sim_uri, state_dir, &sims[i]);
                        if (r < 0) {
                                log_error_errno(r, "simulated host: %m (--sim-shape '%s': %s)", sim_shape, hv_last_error());
                                goto out;
                        }
                        hosts[n_hosts++] = (struct agent_host_config) { .name = NULL, .hv = sims[i] };
                }
                log_info("running %lld simulated hosts of shape %s", (long long) sim_hosts, sim_shape);
        } else {
                r = hv_driver_for_uri(uri)->open(uri, state_dir, &hv);
                if (r < 0) {
                        log_error_errno(r, "connecting to libvirt: %m (%s)", hv_last_error());
                        goto out;
                }
                hosts = xcalloc(1, sizeof *hosts);
                hosts[n_hosts++] = (struct agent_host_config) { .name = host_arg, .hv = hv };
        }
        acfg = (struct agent_config) {
                .store = store, .hosts = hosts, .n_hosts = n_hosts, .state_dir = state_dir,
                .shutdown_timeout_ms = (int) shutdown_s * 1000, .metrics = metrics,
                .placement = &agent_placement,
        };
        if (agent_new(&acfg, &agent) < 0)
                goto out;
        if (autoscaler_new(&(struct autoscaler_config) { .store = store, .metrics = metrics,
                                                           .sched_cache = sched_cache }, &autoscaler) < 0)
                goto out;
        cfg = (struct api_config) {
                .store = store, .state_dir = state_dir, .listen = listen, .socket_path = sock,
                .token = token, .host_name = host_arg, .metrics = metrics, .sched_cache = sched_cache,
        };
        if (api_new(&cfg, &api) < 0)
                goto out;
        log_info("tided ready: state %s, store %s, API on %s and %s", state_dir, store_backend_name(store),
                 listen ? listen : "(no TCP)", sock);

        int sig;
        while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
                log_info("SIGHUP ignored");
        log_info("signal %d: stopping (VMs keep running)", sig);
        ret = 0;
out:
        api_free(api);
        autoscaler_free(autoscaler);
        agent_free(agent);
        if (hv)
                hv_conn_driver(hv)->close(hv);
        for (size_t i = 0; sims && i < (size_t) sim_hosts; i++)
                if (sims[i])
                        hv_conn_driver(sims[i])->close(sims[i]);
        free(sims);
        free(hosts);
        sched_cache_free(sched_cache);   /* after its users, before the store its watches are on */
        store_free(store);
        metrics_free(metrics);
        return ret;
}
