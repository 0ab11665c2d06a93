/* store_etcd_http.c — the etcd backend's calls to etcd v3's JSON gateway: a pool of curl handles
 * (each keeps its connections alive), failover between endpoints, etcd's errors as TIDE_E_*, and
 * the gateway's encodings (base64, int64 strings). */
#include "store_etcd_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/tide_json.h"
#include "common/util.h"

/* ---- encodings ---- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64(const void *data, size_t n) {
        const unsigned char *p = data;
        char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
        size_t i = 0;
        for (; i + 2 < n; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
                *o++ = b64_alphabet[v >> 18 & 63];
                *o++ = b64_alphabet[v >> 12 & 63];
                *o++ = b64_alphabet[v >> 6 & 63];
                *o++ = b64_alphabet[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t) p[i] << 16 | (i + 1 < n ? (uint32_t) p[i + 1] << 8 : 0);
                *o++ = b64_alphabet[v >> 18 & 63];
                *o++ = b64_alphabet[v >> 12 & 63];
                *o++ = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
                *o++ = '=';
        }
        *o = 0;
        return out;
}

static pthread_once_t b64_once = PTHREAD_ONCE_INIT;
static signed char b64_values[256]; /* -1: not in the alphabet */

static void b64_init(void) {
        memset(b64_values, -1, sizeof b64_values);
        for (int i = 0; i < 64; i++)
                b64_values[(unsigned char) b64_alphabet[i]] = (signed char) i;
}

static int b64_value(char c) {
        return b64_values[(unsigned char) c];
}

int etcd_unb64(const char *text, char **ret, size_t *ret_len) {
        pthread_once(&b64_once, b64_init);
        size_t len = strlen(text);
        if (len % 4)
                return -EINVAL;
        _cleanup_free_ char *out = xmalloc(len / 4 * 3 + 1);
        size_t n = 0;
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                int pad = 0;
                for (int k = 0; k < 4; k++) {
                        if (text[i + k] == '=' && i + 4 == len && k >= 2) {
                                v[k] = 0;
                                pad++;
                                continue;
                        }
                        if (pad)
                                return -EINVAL;
                        v[k] = b64_value(text[i + k]);
                        if (v[k] < 0)
                                return -EINVAL;
                }
                uint32_t w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) v[2] << 6 | (uint32_t) v[3];
                out[n++] = (char) (w >> 16);
                if (pad < 2)
                        out[n++] = (char) (w >> 8 & 0xff);
                if (pad < 1)
                        out[n++] = (char) (w & 0xff);
        }
        out[n] = 0;
        *ret = TAKE_PTR(out);
        *ret_len = n;
        return 0;
}

int etcd_json_i64(const json_t *o, const char *key, int64_t *ret) {
        json_t *v = json_object_get(o, key);
        if (!v) {
                *ret = 0;
                return 0;
        }
        if (json_is_integer(v)) {
                *ret = json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v))
                return -EINVAL;
        return parse_int64(json_string_value(v), INT64_MIN, INT64_MAX, ret);
}

void etcd_json_set_b64(json_t *o, const char *key, const void *data, size_t n) {
        _cleanup_free_ char *text = etcd_b64(data, n);
        json_object_set_new(o, key, json_string(text));
}

void etcd_json_set_i64(json_t *o, const char *key, int64_t v) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRId64, v);
        json_object_set_new(o, key, json_string(buf));
}

void etcd_json_set_prefix(json_t *o, const char *prefix) {
        size_t n = strlen(prefix);
        /* The end of a prefix range: the prefix with its last byte below 0xff incremented (and
         * what follows it dropped); "\0" (every key from key on) when there is none. */
        _cleanup_free_ char *end = xstrdup(prefix);
        size_t end_len = n;
        while (end_len > 0 && (unsigned char) end[end_len - 1] == 0xff)
                end_len--;
        if (end_len > 0)
                end[end_len - 1]++;
        if (n == 0)
                etcd_json_set_b64(o, "key", "", 1);
        else
                etcd_json_set_b64(o, "key", prefix, n);
        if (end_len == 0)
                etcd_json_set_b64(o, "range_end", "", 1);
        else
                etcd_json_set_b64(o, "range_end", end, end_len);
}

static int json_b64_member(const json_t *o, const char *key, char **ret, size_t *ret_len) {
        const char *text = tide_json_str(o, key, "");
        return etcd_unb64(text, ret, ret_len);
}

int etcd_kv_from_json(const json_t *o, struct store_kv *ret) {
        struct store_kv kv = {};
        size_t key_len;
        int r = json_b64_member(o, "key", &kv.key, &key_len);
        if (r >= 0)
                r = json_b64_member(o, "value", &kv.value, &kv.value_len);
        if (r >= 0)
                r = etcd_json_i64(o, "create_revision", &kv.create_rev);
        if (r >= 0)
                r = etcd_json_i64(o, "mod_revision", &kv.mod_rev);
        if (r >= 0)
                r = etcd_json_i64(o, "version", &kv.version);
        if (r >= 0)
                r = etcd_json_i64(o, "lease", &kv.lease);
        if (r < 0 || key_len != strlen(kv.key)) {
                store_kv_clear(&kv);
                return TIDE_E_BACKEND;
        }
        *ret = kv;
        return 0;
}

bool etcd_same_cluster(struct etcd_store *s, const json_t *reply) {
        /* A uint64 sent as a string: beyond int64's range as often as not. */
        const char *text = tide_json_str(json_object_get(reply, "header"), "cluster_id", NULL);
        if (!text || !*text)
                return true;
        char *end = NULL;
        errno = 0;
        unsigned long long id = strtoull(text, &end, 10);
        if (errno != 0 || *end || id == 0)
                return true;
        uint64_t known = 0;
        return atomic_compare_exchange_strong(&s->cluster_id, &known, (uint64_t) id) || known == (uint64_t) id;
}

int etcd_header_revision(const json_t *reply, int64_t *ret) {
        int64_t rev;
        int r = etcd_json_i64(json_object_get(reply, "header"), "revision", &rev);
        if (r < 0 || rev <= 0)
                return TIDE_E_BACKEND;
        *ret = rev;
        return 0;
}

/* ---- curl ---- */

struct curl_slist *etcd_headers(void) {
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        h = curl_slist_append(h, "Expect:");
        /* gRPC metadata "hasleader", through the gateway: a member that has no leader answers
         * "no leader" at once (so the request goes elsewhere, known not to have been applied)
         * instead of holding it until it times out, its outcome unknown; and a watch on such a
         * member is cancelled (then resumed elsewhere) rather than left silent. */
        h = curl_slist_append(h, "Grpc-Metadata-hasleader: true");
        if (!h)
                abort();
        return h;
}

void etcd_curl_setup(CURL *c, struct curl_slist *headers) {
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 2L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) ETCD_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
}

static size_t reply_write(char *data, size_t size, size_t n, void *userdata) {
        struct strbuf *b = userdata;
        return strbuf_append(b, data, size * n) < 0 ? 0 : size * n;
}

static CURL *pool_take(struct etcd_store *s) {
        pthread_mutex_lock(&s->pool_lock);
        CURL *c = s->n_pool > 0 ? s->pool[--s->n_pool] : NULL;
        pthread_mutex_unlock(&s->pool_lock);
        if (c)
                return c;
        c = curl_easy_init();
        if (!c)
                abort();
        etcd_curl_setup(c, s->headers);
        return c;
}

static void pool_give(struct etcd_store *s, CURL *c) {
        pthread_mutex_lock(&s->pool_lock);
        if (s->n_pool == s->cap_pool) {
                s->cap_pool = s->cap_pool ? s->cap_pool * 2 : 8;
                s->pool = xrealloc(s->pool, s->cap_pool * sizeof *s->pool);
        }
        s->pool[s->n_pool++] = c;
        pthread_mutex_unlock(&s->pool_lock);
}

/* What one attempt on one endpoint gave. */
enum attempt {
        ATTEMPT_DONE,        /* an answer: the result stands */
        ATTEMPT_NOT_APPLIED, /* etcd did not get or did not apply it: try elsewhere */
        ATTEMPT_NO_SERVER,   /* no connection could be made: as NOT_APPLIED, and nobody answered */
        ATTEMPT_UNKNOWN,     /* it may have been applied: only a repeatable request goes again */
};

/* etcd's gRPC error of a non-200 reply as a TIDE_E_* code, and whether it says that the request
 * was not applied (no leader, a stopping member, a dropped proposal) or may have been (timeouts). */
static int map_error(long status, const json_t *reply, enum attempt *ret_attempt) {
        int64_t code = tide_json_int(reply, "code", -1);
        const char *msg = tide_json_str(reply, "error", "");
        /* A streaming call (a lease keep-alive) fails after its 200 header, in the body:
         * {"error":{"grpc_code":14,"message":"..."}}. */
        json_t *inner = json_object_get(reply, "error");
        if (json_is_object(inner)) {
                code = tide_json_int(inner, "grpc_code", -1);
                msg = tide_json_str(inner, "message", "");
        }
        *ret_attempt = ATTEMPT_DONE;
        switch (code) {
        case 3: /* InvalidArgument */
                if (strstr(msg, "too large") || strstr(msg, "too many operations"))
                        return TIDE_E_TOO_LARGE;
                return TIDE_E_INVALID;
        case 5: /* NotFound */
                return strstr(msg, "lease") ? TIDE_E_LEASE : TIDE_E_NOT_FOUND;
        case 11: /* OutOfRange */
                return strstr(msg, "compacted") ? TIDE_E_COMPACTED : TIDE_E_INVALID;
        case 8: /* ResourceExhausted: gRPC's message limit, or "too many requests" before proposing */
                if (strstr(msg, "larger than max"))
                        return TIDE_E_TOO_LARGE;
                *ret_attempt = ATTEMPT_NOT_APPLIED;
                return TIDE_E_BACKEND;
        case 4:  /* DeadlineExceeded */
        case 14: /* Unavailable */
                if (strstr(msg, "timed out") || strstr(msg, "leader changed"))
                        *ret_attempt = ATTEMPT_UNKNOWN;
                else
                        *ret_attempt = ATTEMPT_NOT_APPLIED;
                return TIDE_E_BACKEND;
        default:
                if (strstr(msg, "proposal dropped"))
                        *ret_attempt = ATTEMPT_NOT_APPLIED;
                else if (status >= 500)
                        *ret_attempt = ATTEMPT_UNKNOWN;
                return TIDE_E_BACKEND;
        }
}

/* One POST to one endpoint. */
static int attempt_one(struct etcd_store *s, CURL *c, const char *endpoint, const char *path, const char *body,
                       json_t **ret, enum attempt *ret_attempt) {
        _cleanup_free_ char *url = xasprintf("%s%s", endpoint, path);
        struct strbuf reply = STRBUF_INIT(ETCD_REPLY_MAX);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) ETCD_CALL_TIMEOUT_MS);
        CURLcode cr = curl_easy_perform(c);
        if (cr != CURLE_OK) {
                strbuf_clear(&reply);
                if (cr == CURLE_WRITE_ERROR) {
                        *ret_attempt = ATTEMPT_DONE;
                        return TIDE_E_TOO_LARGE;
                }
                /* Whether any of the request left: not when no connection was made, but a reused
                 * connection has no connect time either (and curl may have tried the request on a
                 * kept-alive connection that died before it connected anew), so count bytes. */
                long sent = 0;
                curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
                *ret_attempt = sent > 0 ? ATTEMPT_UNKNOWN : ATTEMPT_NO_SERVER;
                return TIDE_E_BACKEND;
        }
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        json_error_t jerr;
        json_t *j = json_loadb(strbuf_str(&reply), reply.len, 0, &jerr);
        strbuf_clear(&reply);
        if (!json_is_object(j)) {
                json_decref(j);
                *ret_attempt = status == 200 ? ATTEMPT_DONE : ATTEMPT_UNKNOWN;
                return TIDE_E_BACKEND;
        }
        if (status != 200 || json_is_object(json_object_get(j, "error"))) {
                int r = map_error(status == 200 ? 500 : status, j, ret_attempt);
                json_decref(j);
                return r;
        }
        if (!etcd_same_cluster(s, j)) {
                json_decref(j);
                *ret_attempt = ATTEMPT_NOT_APPLIED; /* not by this cluster, whatever the other did */
                return TIDE_E_BACKEND;
        }
        *ret_attempt = ATTEMPT_DONE;
        *ret = j;
        return 0;
}

static void pause_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int etcd_call(struct etcd_store *s, const char *path, json_t *req, unsigned flags, json_t **ret) {
        _cleanup_free_ char *body = tide_json_dump(req);
        CURL *c = pool_take(s);
        int64_t deadline = mono_ms() + ETCD_RETRY_BUDGET_MS;
        size_t first = atomic_load(&s->preferred) % s->n_endpoints;
        int r = TIDE_E_BACKEND;
        bool answered = false;
        for (int round = 0;; round++) {
                for (size_t k = 0; k < s->n_endpoints; k++) {
                        size_t i = (first + k) % s->n_endpoints;
                        enum attempt a;
                        json_t *reply = NULL;
                        r = attempt_one(s, c, s->endpoints[i], path, body, &reply, &a);
                        if (a == ATTEMPT_DONE || (a == ATTEMPT_UNKNOWN && !(flags & ETCD_REPEATABLE))) {
                                if (a == ATTEMPT_DONE)
                                        atomic_store(&s->preferred, i);
                                pool_give(s, c);
                                if (r >= 0)
                                        *ret = reply;
                                return r;
                        }
                        answered = answered || a != ATTEMPT_NO_SERVER;
                }
                if (mono_ms() >= deadline || ((flags & ETCD_NO_WAIT) && !answered))
                        break;
                /* Every endpoint refused or has no leader: an election is under way, or etcd is
                 * restarting. */
                pause_ms(round < 3 ? 50 : 250);
        }
        pool_give(s, c);
        return r;
}
