/* tided — tide's daemon: on one host it runs the API, the agent and the controllers (the
 * autoscaler, while this tided leads them) on the embedded SQLite store and libvirt's embedded QEMU driver. Logs to stderr;
 * SIGTERM or SIGINT stop it cleanly and leave the VMs running.
 *
 * main: the options (parse_args), the state directory, what the services run on (host_open:
 * token, store, placement cache, metrics, hypervisor or simulated hosts), the services of
 * services[] started in order, a wait for a signal, the services stopped in reverse order. */
#include <errno.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "agent/hv.h"
#include "api/api.h"
#include "common/errors.h"
#include "common/fs_private.h"
#include "common/log.h"
#include "common/util.h"
#include "ctl/autoscaler.h"
#include "ctl/ctl_controllers.h"
#include "ctl/ctl_drain.h"
#include "ctl/ctl_leader.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_cache.h"
#include "sched/sched_migrate.h"
#include "sched/sched_store.h"
#include "store/store.h"

#define DEFAULT_STATE_DIR "/var/lib/tide"
#define SIM_HOSTS_MAX 10000

/* Placement's bookkeeping, which the agent is given (agent.h). */
static const struct agent_placement agent_placement = {
        .instance_delete = sched_store_delete,
        .shared_pools = sched_store_shared_pools,
        .migrate_finish = sched_migrate_finish,
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
              "  --store URL           store (default sqlite:STATE/store.db), or an etcd cluster:\n"
              "                        etcd:http://HOST:PORT[,http://HOST:PORT...]\n"
              "  --host-name NAME      this host's name in the pool (default: the hostname)\n"
              "  --address IP          the IPv4 address other hosts reach this one at: its API, its\n"
              "                        libvirtd (migrations); default: --listen's address unless that\n"
              "                        is 0.0.0.0 or loopback (then none: a single host)\n"
              "  --shared-dir DIR      storage every host mounts (NFS, ...): images and instances'\n"
              "                        files live in DIR/images and DIR/instances, not under the\n"
              "                        state directory; without it a host copies an image from\n"
              "                        another on first use\n"
              "  --image-max-mib N     the largest image tided takes, its files together, in MiB\n"
              "                        (default 65536: 64 GiB)\n"
              "  --shutdown-timeout S  seconds a guest gets to shut down before power-off (default 30)\n"
              "  --lease-ttl S         TTL of the host's lease and of the leader's (default 10): a host\n"
              "                        whose tided stops renewing shows down, and another tided leads\n"
              "                        the controllers, within it\n"
              "  --sim-hosts N         run N simulated hosts (sim-1 ... sim-N, or NAME-sim-1 ... with\n"
              "                        --host-name NAME; no VMs) instead of this machine's hypervisor:\n"
              "                        for tests and benchmarks of placement and of several tideds\n"
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

/* The command line. */
struct options {
        const char *state_dir; /* as given; main resolves it */
        const char *listen;    /* NULL: no TCP */
        const char *uri, *store_url;
        const char *host_name; /* the given one, or hostname[] */
        const char *address;   /* how peers reach this host; NULL: unknown */
        char listen_ip[INET_ADDRSTRLEN];
        bool host_name_given;
        int64_t shutdown_s, sim_hosts, lease_ttl_s;
        int64_t image_max_mib;
        const char *shared_dir; /* as given; main resolves it */
        const char *sim_shape;
        char hostname[256];
};

/* Checks --address, or takes --listen's address for it when that is one peers can reach. 1, or
 * -EINVAL (told on stderr). */
static int address_resolve(struct options *o) {
        struct in_addr in;
        if (o->address) {
                if (inet_pton(AF_INET, o->address, &in) != 1 || in.s_addr == htonl(INADDR_ANY) ||
                    (ntohl(in.s_addr) >> 24) == 127) {
                        fprintf(stderr, "tided: --address needs an IPv4 address other hosts can reach, not '%s'\n",
                                o->address);
                        return -EINVAL;
                }
                return 1;
        }
        const char *colon = o->listen ? strrchr(o->listen, ':') : NULL;
        size_t len = colon ? (size_t) (colon - o->listen) : 0;
        if (len == 0 || len >= sizeof o->listen_ip)
                return 1;
        memcpy(o->listen_ip, o->listen, len);
        o->listen_ip[len] = 0;
        if (inet_pton(AF_INET, o->listen_ip, &in) == 1 && in.s_addr != htonl(INADDR_ANY) &&
            (ntohl(in.s_addr) >> 24) != 127)
                o->address = o->listen_ip;
        return 1;
}

/* Parses argv into *o. Returns 1 to run, 0 when it has printed the help, -EINVAL on a usage
 * error (told on stderr). */
static int parse_args(int argc, char **argv, struct options *o) {
        enum {
                OPT_STATE = 256,
                OPT_LISTEN,
                OPT_URI,
                OPT_STORE,
                OPT_HOST,
                OPT_ADDRESS,
                OPT_SHUTDOWN,
                OPT_IMAGE_MAX,
                OPT_SHARED_DIR,
                OPT_DEBUG,
                OPT_SIM_HOSTS,
                OPT_SIM_SHAPE,
                OPT_LEASE_TTL,
        };
        static const struct option opts[] = {
                { "state-dir", required_argument, NULL, OPT_STATE },
                { "listen", required_argument, NULL, OPT_LISTEN },
                { "libvirt-uri", required_argument, NULL, OPT_URI },
                { "store", required_argument, NULL, OPT_STORE },
                { "host-name", required_argument, NULL, OPT_HOST },
                { "address", required_argument, NULL, OPT_ADDRESS },
                { "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN },
                { "image-max-mib", required_argument, NULL, OPT_IMAGE_MAX },
                { "shared-dir", required_argument, NULL, OPT_SHARED_DIR },
                { "debug", no_argument, NULL, OPT_DEBUG },
                { "sim-hosts", required_argument, NULL, OPT_SIM_HOSTS },
                { "sim-shape", required_argument, NULL, OPT_SIM_SHAPE },
                { "lease-ttl", required_argument, NULL, OPT_LEASE_TTL },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        *o = (struct options) {
                .state_dir = DEFAULT_STATE_DIR,
                .listen = API_DEFAULT_LISTEN,
                .shutdown_s = 30,
                .lease_ttl_s = 10,
                .sim_shape = "cpus=16,numa=2,mem_mib=65536,disk_gib=1000",
        };
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case OPT_STATE:
                        o->state_dir = optarg;
                        break;
                case OPT_LISTEN:
                        o->listen = streq(optarg, "none") ? NULL : optarg;
                        break;
                case OPT_URI:
                        o->uri = optarg;
                        break;
                case OPT_STORE:
                        o->store_url = optarg;
                        break;
                case OPT_HOST:
                        o->host_name = optarg;
                        o->host_name_given = true;
                        break;
                case OPT_ADDRESS:
                        o->address = optarg;
                        break;
                case OPT_SHUTDOWN:
                        if (parse_int64(optarg, 1, 3600, &o->shutdown_s) < 0) {
                                fprintf(stderr, "tided: --shutdown-timeout needs seconds from 1 to 3600\n");
                                return -EINVAL;
                        }
                        break;
                case OPT_SHARED_DIR:
                        o->shared_dir = optarg;
                        break;
                case OPT_IMAGE_MAX:
                        if (parse_int64(optarg, 1, INT64_MAX >> 20, &o->image_max_mib) < 0) {
                                fprintf(stderr, "tided: --image-max-mib needs a positive number of MiB\n");
                                return -EINVAL;
                        }
                        break;
                case OPT_DEBUG:
                        log_set_level(LOG_LVL_DEBUG);
                        break;
                case OPT_SIM_HOSTS:
                        if (parse_int64(optarg, 1, SIM_HOSTS_MAX, &o->sim_hosts) < 0) {
                                fprintf(stderr, "tided: --sim-hosts needs a count from 1 to %d\n", SIM_HOSTS_MAX);
                                return -EINVAL;
                        }
                        break;
                case OPT_LEASE_TTL:
                        if (parse_int64(optarg, 2, 600, &o->lease_ttl_s) < 0) {
                                fprintf(stderr, "tided: --lease-ttl needs seconds from 2 to 600\n");
                                return -EINVAL;
                        }
                        break;
                case OPT_SIM_SHAPE:
                        o->sim_shape = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "tided: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return -EINVAL;
        }
        if (!o->host_name) {
                gethostname(o->hostname, sizeof o->hostname - 1);
                o->host_name = o->hostname;
        }
        if (!model_name_valid(o->host_name)) {
                fprintf(stderr, "tided: host name '%s' is not a valid name; pass --host-name\n", o->host_name);
                return -EINVAL;
        }
        return address_resolve(o);
}

/* base/images and base/instances: disks, kernels and consoles are root's and QEMU's only
 * (fs_private.h); this also closes the stores of older tideds, whose files were readable by
 * all. */
static int private_dirs_prepare(const char *base) {
        _cleanup_free_ char *images = model_image_path(base, NULL, NULL);
        _cleanup_free_ char *instances = model_instance_path(base, NULL, NULL);
        int r;
        if ((r = fs_private_mkdir(images)) < 0 || (r = fs_private_mkdir(instances)) < 0)
                return log_error_errno(r, "creating %s and %s: %m", images, instances);
        return 0;
}

/* The shared directory (--shared-dir), which must exist (a mount, not something to create);
 * ret gets its absolute path. */
static int shared_dir_prepare(const char *dir, char **ret) {
        _cleanup_free_ char *shared = realpath(dir, NULL);
        struct stat st;
        if (!shared || stat(shared, &st) < 0 || !S_ISDIR(st.st_mode))
                return log_error_errno(shared ? -ENOTDIR : -errno, "--shared-dir %s: %m", dir);
        int r = private_dirs_prepare(shared);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(shared);
        return 0;
}

/* Creates the state directory; ret gets its absolute path (caller frees). libvirt's log goes
 * to a file in it: libvirt logs every error it raises, also those tided expects and handles (a
 * domain already gone); the driver hands them to tided, which logs what matters once. Set
 * before any thread starts. */
static int state_dir_prepare(const char *dir, char **ret) {
        int r = mkdir_p(dir, 0755);
        if (r < 0)
                return log_error_errno(r, "creating %s: %m", dir);
        _cleanup_free_ char *state_dir = realpath(dir, NULL);
        if (!state_dir)
                return log_error_errno(-errno, "resolving %s: %m", dir);
        (void) chmod(state_dir, 0755);
        if ((r = private_dirs_prepare(state_dir)) < 0)
                return r;

        _cleanup_free_ char *libvirt_log = xasprintf("4:file:%s/libvirt.log", state_dir);
        setenv("LIBVIRT_LOG_OUTPUTS", libvirt_log, 0);
        *ret = TAKE_PTR(state_dir);
        return 0;
}

/* What tided runs on: opened by host_open(), then the services' handles (services[]), all
 * released by host_close(). */
struct tided {
        const struct options *opt;
        const char *state_dir;
        const char *shared_dir; /* NULL: none */
        char *token;
        char *sock;
        struct metrics *metrics;
        struct store *store;
        struct sched_cache *sched_cache;
        struct hv_conn *hv;                        /* this machine's hypervisor, or NULL */
        struct hv_conn **sims;                     /* or opt->sim_hosts simulated hosts */
        char **sim_names;                          /* their names */
        struct agent_host_config *hosts;           /* what the agent runs: hv or the sims */
        char *api_url, *libvirt_uri, *migrate_uri; /* this host's, for peers (--address) */
        size_t n_hosts;
        struct agent *agent;
        struct ctl_leader *leader;
        /* While this tided leads: */
        struct autoscaler *autoscaler;
        struct ctl_runner *controllers;
        struct api *api;
};

/* Simulated hosts stand in for this machine's hypervisor. */
static int sims_open(struct tided *t) {
        const struct options *o = t->opt;
        t->sims = xcalloc((size_t) o->sim_hosts, sizeof *t->sims);
        t->sim_names = xcalloc((size_t) o->sim_hosts, sizeof *t->sim_names);
        t->hosts = xcalloc((size_t) o->sim_hosts, sizeof *t->hosts);
        _cleanup_free_ char *query = xstrdup(o->sim_shape);
        for (char *p = query; *p; p++)
                if (*p == ',')
                        *p = '&';
        for (int64_t i = 0; i < o->sim_hosts; i++) {
                /* With --host-name, several tideds on one store each have their own. */
                _cleanup_free_ char *sim_uri = xasprintf("sim:///%s%ssim-%lld?%s",
                                                         o->host_name_given ? o->host_name : "",
                                                         o->host_name_given ? "-" : "", (long long) i + 1, query);
                int r = hv_sim_driver.open(sim_uri, t->state_dir, &t->sims[i]);
                if (r < 0)
                        return log_error_errno(r, "simulated host: %m (--sim-shape '%s': %s)", o->sim_shape,
                                               hv_last_error());
                /* Named as the driver names them, so that the election can say which it runs. */
                t->sim_names[i] = xasprintf("%s%ssim-%lld", o->host_name_given ? o->host_name : "",
                                            o->host_name_given ? "-" : "", (long long) i + 1);
                t->hosts[t->n_hosts++] = (struct agent_host_config) { .name = t->sim_names[i], .hv = t->sims[i] };
        }
        log_info("running %lld simulated hosts of shape %s", (long long) o->sim_hosts, o->sim_shape);
        return 0;
}

/* How peers reach this host at address (an IPv4 address): its API on --listen's port, its
 * libvirtd over TCP. */
static void peer_urls_set(struct tided *t, const char *address) {
        const char *colon = t->opt->listen ? strrchr(t->opt->listen, ':') : NULL;
        if (colon)
                t->api_url = xasprintf("http://%s:%s", address, colon + 1);
        t->libvirt_uri = xasprintf("qemu+tcp://%s/system", address);
        t->migrate_uri = xasprintf("tcp://%s", address);
        t->hosts[0].api_url = t->api_url;
        t->hosts[0].libvirt_uri = t->libvirt_uri;
        t->hosts[0].migrate_uri = t->migrate_uri;
}

/* Opens what the services run on: the admin token, the store, placement's cache of the hosts,
 * the metrics, and the hypervisor (or the simulated hosts). On failure, host_close() releases
 * what was opened. */
static int host_open(struct tided *t) {
        const struct options *o = t->opt;
        _cleanup_free_ char *default_store = xasprintf("sqlite:%s/store.db", t->state_dir);
        const char *store_url = o->store_url ? o->store_url : default_store;
        int r;

        t->sock = xasprintf("%s/tided.sock", t->state_dir);
        t->metrics = metrics_new(0);
        r = ensure_token(t->state_dir, &t->token);
        if (r < 0)
                return r;
        r = store_open(store_url, &t->store);
        if (r < 0)
                return log_error_errno(r, "opening the store %s: %m", store_url);
        /* Placement's view of the hosts, shared by the API's threads and the autoscaler's. */
        (void) sched_cache_new(t->store, &t->sched_cache);
        if (o->sim_hosts > 0)
                return sims_open(t);
        r = hv_driver_for_uri(o->uri)->open(o->uri, t->state_dir, &t->hv);
        if (r < 0)
                return log_error_errno(r, "connecting to libvirt: %m (%s)", hv_last_error());
        t->hosts = xcalloc(1, sizeof *t->hosts);
        t->hosts[t->n_hosts++] = (struct agent_host_config) { .name = o->host_name, .hv = t->hv };
        if (o->address)
                peer_urls_set(t, o->address);
        return 0;
}

static void host_close(struct tided *t) {
        if (t->hv)
                hv_conn_driver(t->hv)->close(t->hv);
        for (size_t i = 0; t->sims && i < (size_t) t->opt->sim_hosts; i++)
                if (t->sims[i])
                        hv_conn_driver(t->sims[i])->close(t->sims[i]);
        free(t->sims);
        for (size_t i = 0; t->sim_names && i < (size_t) t->opt->sim_hosts; i++)
                free(t->sim_names[i]);
        free(t->sim_names);
        free(t->hosts);
        sched_cache_free(t->sched_cache); /* after its users, before the store its watches are on */
        store_free(t->store);
        metrics_free(t->metrics);
        free(t->sock);
        free(t->token);
        free(t->api_url);
        free(t->libvirt_uri);
        free(t->migrate_uri);
}

/* The services, each with its own threads: the agent, the election of the controllers' leader
 * (which runs them while this tided leads), the API. */

static int agent_start(struct tided *t) {
        struct agent_config cfg = {
                .store = t->store,
                .hosts = t->hosts,
                .n_hosts = t->n_hosts,
                .state_dir = t->state_dir,
                .shared_dir = t->shared_dir,
                .token = t->token,
                .shutdown_timeout_ms = (int) t->opt->shutdown_s * 1000,
                .lease_ttl_s = (int) t->opt->lease_ttl_s,
                .metrics = t->metrics,
                .placement = &agent_placement,
        };
        return agent_new(&cfg, &t->agent);
}

static void agent_stop(struct tided *t) {
        agent_free(t->agent);
}

/* The controllers run only while this tided leads (ctl_leader.h); every tided campaigns. They
 * write through the store fenced by the election, which the election revokes before it calls
 * leader_deposed. */
static void leader_elected(void *userdata, int64_t election_rev, struct store *fenced) {
        struct tided *t = userdata;
        struct autoscaler_config cfg = { .sched_cache = t->sched_cache };
        int r = autoscaler_new(&cfg, &t->autoscaler);
        if (r >= 0) {
                const struct ctl_controller table[] = {
                        autoscaler_controller(t->autoscaler),
                        ctl_drain_controller(),
                };
                r = ctl_runner_new(table, ELEMENTSOF(table), fenced, election_rev, &t->controllers);
        }
        if (r >= 0)
                r = ctl_runner_start(t->controllers);
        if (r < 0)
                log_error_errno(r, "starting the controllers: %m");
}

static void leader_deposed(void *userdata, const char *why) {
        struct tided *t = userdata;
        (void) why;
        ctl_runner_free(t->controllers);
        t->controllers = NULL;
        autoscaler_free(t->autoscaler);
        t->autoscaler = NULL;
}

static int leader_start(struct tided *t) {
        _cleanup_free_ const char **hosts = xcalloc(t->n_hosts ? t->n_hosts : 1, sizeof *hosts);
        for (size_t i = 0; i < t->n_hosts; i++)
                hosts[i] = t->hosts[i].name;
        struct ctl_leader_config cfg = {
                .store = t->store,
                .name = t->opt->host_name,
                .hosts = hosts,
                .n_hosts = t->n_hosts,
                .ttl_s = (int) t->opt->lease_ttl_s,
                .elected = leader_elected,
                .deposed = leader_deposed,
                .userdata = t,
        };
        int r = ctl_leader_new(&cfg, &t->leader);
        return r < 0 ? log_error_errno(r, "starting the election: %m") : 0;
}

static void leader_stop(struct tided *t) {
        ctl_leader_free(t->leader); /* deposes: the controllers stop, the lease is revoked */
        t->leader = NULL;
}

static int api_start(struct tided *t) {
        struct api_config cfg = {
                .store = t->store,
                .state_dir = t->state_dir,
                .shared_dir = t->shared_dir,
                .listen = t->opt->listen,
                .socket_path = t->sock,
                .token = t->token,
                .host_name = t->opt->host_name,
                .metrics = t->metrics,
                .sched_cache = t->sched_cache,
                .image_max_bytes = t->opt->image_max_mib << 20,
        };
        return api_new(&cfg, &t->api);
}

static void api_stop(struct tided *t) {
        api_free(t->api);
}

/* Started in this order, stopped in the reverse one: the API last, once what it calls runs.
 * Each start logs its own failure; a stop is fine on a service that never started (its handle
 * is NULL). */
static const struct service {
        const char *name;
        int (*start)(struct tided *t);
        void (*stop)(struct tided *t);
} services[] = {
        { "agent", agent_start, agent_stop },
        { "leader", leader_start, leader_stop },
        { "API", api_start, api_stop },
};

/* Waits for SIGTERM or SIGINT (blocked in every thread, taken here); SIGHUP is ignored. */
static int signal_wait(const sigset_t *sigs) {
        int sig;
        while (sigwait(sigs, &sig) == 0 && sig == SIGHUP)
                log_info("SIGHUP ignored");
        return sig;
}

int main(int argc, char **argv) {
        struct options opt;
        _cleanup_free_ char *state_dir = NULL, *shared_dir = NULL;
        sigset_t sigs;
        int r, ret = 1;

        log_set_ident("tided");
        r = parse_args(argc, argv, &opt);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (state_dir_prepare(opt.state_dir, &state_dir) < 0)
                return 1;
        if (opt.shared_dir && shared_dir_prepare(opt.shared_dir, &shared_dir) < 0)
                return 1;

        /* Signals are taken by sigwait in this thread only; every other thread inherits the mask. */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct tided t = { .opt = &opt, .state_dir = state_dir, .shared_dir = shared_dir };
        if (host_open(&t) < 0)
                goto out;
        for (size_t i = 0; i < ELEMENTSOF(services); i++) {
                if (services[i].start(&t) < 0)
                        goto out;
                log_debug("%s started", services[i].name);
        }
        log_info("tided ready: state %s, store %s, API on %s and %s", state_dir, store_backend_name(t.store),
                 opt.listen ? opt.listen : "(no TCP)", t.sock);

        log_info("signal %d: stopping (VMs keep running)", signal_wait(&sigs));
        ret = 0;
out:
        for (size_t i = ELEMENTSOF(services); i-- > 0;)
                services[i].stop(&t);
        host_close(&t);
        return ret;
}
