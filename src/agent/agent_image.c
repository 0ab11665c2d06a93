/* agent_image.c — an image's files on this host before an instance's overlay is made on them.
 *
 * They are here when this host's tided created the image, or when the images live on storage
 * every host mounts (tided --shared-dir). Otherwise the agent copies them on first use from a
 * host the image's record lists as holding them (its "hosts"; the peer's API address from its
 * host record, "api_url"), over GET /v1/images/{id}/files/{file} with the cluster's token. Each
 * file is streamed into <images>/<id>.fetch/, its sha256 computed on the way and compared with
 * the record's; the directory becomes <images>/<id> by one rename once every file is whole and
 * right, so a partial or corrupt copy is never used. One copy at a time per process: concurrent
 * first uses of an image on this host fetch it once. */
#include "agent/agent_image.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/fs_private.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

#define FETCH_CONNECT_TIMEOUT_MS 5000
#define FETCH_STALL_S 60 /* a copy that moves nothing for this long fails */
/* A copy is swept only this long after it was made: the API renames a new image's directory
 * into place just before it stores the record. */
#define SWEEP_MIN_AGE_S 60

static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;

const char *agent_files_base(const struct agent_config *cfg) {
        return cfg->shared_dir ? cfg->shared_dir : cfg->state_dir;
}

/* One file being received. */
struct sink {
        int fd;
        struct sha256 sha;
        int64_t size, max;
        int error; /* a write failed (-errno), or the body outgrew max (TIDE_E_TOO_LARGE) */
};

static size_t sink_write(char *data, size_t size, size_t n, void *userdata) {
        struct sink *s = userdata;
        size_t len = size * n;
        if ((int64_t) len > s->max - s->size) {
                s->error = TIDE_E_TOO_LARGE;
                return 0;
        }
        int r = write_all(s->fd, data, len);
        if (r < 0) {
                s->error = r;
                return 0;
        }
        sha256_update(&s->sha, data, len);
        s->size += (int64_t) len;
        return len;
}

int agent_fetch_file(const char *url, const char *token, const char *path, json_t *want, char **ret_why) {
        int64_t want_size = tide_json_int(want, "size", -1);
        const char *want_sha = tide_json_str(want, "sha256", "");
        if (want_size < 0 || !sha256_hex_valid(want_sha)) {
                *ret_why = xstrdup("the record gives no size and sha256 for it");
                return TIDE_E_INVALID;
        }
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || fs_private_fix_fd(fd) < 0) {
                *ret_why = xasprintf("creating %s: %s", path, strerror(errno));
                return -errno;
        }
        struct sink s = { .fd = fd, .max = want_size };
        sha256_init(&s.sha);
        CURL *c = curl_easy_init();
        if (!c) {
                *ret_why = xstrdup("curl cannot start");
                return -ENOMEM;
        }
        _cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", token ? token : "");
        struct curl_slist *headers = curl_slist_append(NULL, auth);
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) FETCH_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long) FETCH_STALL_S);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        curl_slist_free_all(headers);

        if (s.error == TIDE_E_TOO_LARGE) {
                *ret_why = xasprintf("the peer sent more than the record's %lld bytes", (long long) want_size);
                return TIDE_E_INVALID;
        }
        if (s.error < 0 || cc != CURLE_OK) {
                *ret_why = s.error < 0 ? xasprintf("writing %s: %s", path, tide_strerror(s.error))
                                       : xasprintf("%s", *errbuf ? errbuf : curl_easy_strerror(cc));
                return s.error < 0 ? s.error : TIDE_E_BACKEND;
        }
        if (status != 200) {
                *ret_why = xasprintf("HTTP %ld", status);
                return TIDE_E_BACKEND;
        }
        char got[SHA256_HEX_SIZE];
        sha256_final_hex(&s.sha, got);
        if (s.size != want_size || !streq(got, want_sha)) {
                *ret_why = xasprintf("%lld bytes of sha256 %s, not the record's %lld bytes of sha256 %s",
                                     (long long) s.size, got, (long long) want_size, want_sha);
                return TIDE_E_INVALID;
        }
        if (fsync(fd) < 0) {
                *ret_why = xasprintf("writing %s: %s", path, strerror(errno));
                return -errno;
        }
        return 0;
}

/* Whether name is a file tide keeps of an image (model_layout.h): nothing else is asked for,
 * whatever a record says. */
static bool file_name_known(const char *name) {
        return streq(name, "disk.qcow2") || streq(name, "disk.raw") || streq(name, MODEL_IMAGE_KERNEL) ||
               streq(name, MODEL_IMAGE_INITRD);
}

/* Copies every file of image from the peer at api_url into staging. */
static int fetch_from(const struct agent_config *cfg, json_t *image, const char *api_url, const char *staging,
                      char **ret_why) {
        json_t *files = json_object_get(image, "files");
        const char *name;
        json_t *want;
        json_object_foreach(files, name, want) {
                if (!file_name_known(name)) {
                        *ret_why = xasprintf("the record names a file '%.64s' tide does not make", name);
                        return TIDE_E_INVALID;
                }
                _cleanup_free_ char *url = xasprintf("%s/v1/images/%s/files/%s", api_url,
                                                     tide_json_str(image, "id", ""), name);
                _cleanup_free_ char *path = xasprintf("%s/%s", staging, name);
                _cleanup_free_ char *why = NULL;
                int r = agent_fetch_file(url, cfg->token, path, want, &why);
                if (r < 0) {
                        *ret_why = xasprintf("%s: %s", name, why);
                        return r;
                }
        }
        return 0;
}

/* Adds host to the image record's "hosts" (a change for model_obj_modify). */
static int hosts_add(json_t *image, void *userdata) {
        const char *host = userdata;
        json_t *hosts = json_object_get(image, "hosts");
        size_t i;
        json_t *h;
        json_array_foreach(hosts, i, h)
                if (streq(json_string_value(h) ?: "", host))
                        return MODEL_CHANGE_KEEP;
        if (!json_is_array(hosts)) {
                hosts = json_array();
                json_object_set_new(image, "hosts", hosts);
        }
        json_array_append_new(hosts, json_string(host));
        return MODEL_CHANGE_WRITE;
}

/* Copies the image from the first peer that has it right; called under fetch_lock, with the
 * image not here. */
static int fetch(const struct agent_config *cfg, const char *host, json_t *inst, json_t *image, const char *dir) {
        const char *name = tide_json_str(image, "name", "");
        _cleanup_free_ char *staging = xasprintf("%s.fetch", dir);
        _cleanup_free_ char *root = model_image_path(agent_files_base(cfg), NULL, NULL);
        _cleanup_free_ char *why = NULL;
        int r = TIDE_E_NOT_FOUND;
        int64_t t0 = mono_ms();
        json_t *hosts = json_object_get(image, "hosts");
        if (!json_is_object(json_object_get(image, "files"))) {
                why = xstrdup("its record lists no files (an image of an older tide: create it again)");
                hosts = NULL;
        }
        size_t i;
        json_t *peer;
        json_array_foreach(hosts, i, peer) {
                const char *peer_name = json_string_value(peer);
                if (!peer_name || streq(peer_name, host))
                        continue;
                _cleanup_json_ json_t *rec = NULL;
                const char *url = model_host_get(cfg->store, peer_name, &rec) >= 0 ? tide_json_str(rec, "api_url", NULL)
                                                                                   : NULL;
                if (!url) {
                        free(why);
                        why = xasprintf("host '%s' has no API address", peer_name);
                        continue;
                }
                (void) rm_rf(staging);
                if ((r = fs_private_mkdir(root)) < 0 || (r = fs_private_mkdir(staging)) < 0) {
                        free(why);
                        why = xasprintf("creating %s: %s", staging, tide_strerror(r));
                        break;
                }
                _cleanup_free_ char *peer_why = NULL;
                r = fetch_from(cfg, image, url, staging, &peer_why);
                if (r >= 0)
                        break;
                log_warning("image '%s': copy from host '%s' refused: %s", name, peer_name, peer_why);
                free(why);
                why = xasprintf("from host '%s': %s", peer_name, peer_why);
        }
        if (r >= 0 && rename(staging, dir) < 0)
                r = -errno;
        if (r < 0) {
                (void) rm_rf(staging);
                if (!why)
                        why = xstrdup("no other host holds it");
                model_event_emit(cfg->store, "error", "image.copy_failed", inst, host,
                                 "image '%s' could not be copied to host '%s': %s", name, host, why);
                return log_error_errno(r < 0 && r != TIDE_E_NOT_FOUND ? r : TIDE_E_NOT_FOUND,
                                       "image '%s' could not be copied here: %s", name, why);
        }
        int64_t ms = mono_ms() - t0;
        log_info("image '%s' copied here in %lld ms", name, (long long) ms);
        model_event_emit(cfg->store, "info", "image.copied", inst, host, "image '%s' copied to host '%s' in %lld ms",
                         name, host, (long long) ms);
        /* Others may now copy from here too. */
        (void) model_obj_modify(cfg->store, MODEL_IMAGE, tide_json_str(image, "id", ""), hosts_add, (void *) host,
                                NULL);
        return 0;
}

int agent_image_ensure(const struct agent_config *cfg, const char *host, json_t *inst, json_t *image) {
        _cleanup_free_ char *dir = model_image_path(agent_files_base(cfg), tide_json_str(image, "id", ""), NULL);
        if (access(dir, F_OK) == 0)
                return 0;
        pthread_mutex_lock(&fetch_lock);
        int r = access(dir, F_OK) == 0 ? 0 : fetch(cfg, host, inst, image, dir);
        pthread_mutex_unlock(&fetch_lock);
        return r;
}

void agent_image_sweep(const struct agent_config *cfg) {
        /* Shared storage is the deleting tided's to clean, at once. */
        if (cfg->shared_dir)
                return;
        _cleanup_free_ char *root = model_image_path(cfg->state_dir, NULL, NULL);
        DIR *d = opendir(root);
        if (!d)
                return;
        struct dirent *de;
        int64_t now_s = now_ms() / 1000;
        while ((de = readdir(d))) {
                /* Image directories are named by their id; staging ones (<id>.tmp, <id>.fetch)
                 * have a dot and belong to whoever makes them. */
                if (!model_id_valid(de->d_name))
                        continue;
                _cleanup_free_ char *dir = xasprintf("%s/%s", root, de->d_name);
                struct stat st;
                if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || now_s - st.st_ctime < SWEEP_MIN_AGE_S)
                        continue;
                _cleanup_json_ json_t *image = NULL;
                /* Only an answer that the image is gone counts, never a failed read. */
                if (model_obj_get(cfg->store, MODEL_IMAGE, de->d_name, &image, NULL) != TIDE_E_NOT_FOUND)
                        continue;
                int r = rm_rf(dir);
                if (r < 0)
                        log_warning_errno(r, "removing the copy of deleted image %s: %m", de->d_name);
                else
                        log_info("removed the copy of deleted image %s", de->d_name);
        }
        closedir(d);
}
