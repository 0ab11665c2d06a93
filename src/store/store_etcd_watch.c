/* store_etcd_watch.c — watches of the etcd backend: one streaming POST /v3/watch per watch,
 * driven by the caller's own store_watch_next (a curl multi handle, no thread). Lines are
 * reassembled across chunks; a dropped stream resumes after the last revision delivered, on the
 * next endpoint; compaction is TIDE_E_COMPACTED. */
#include "store_etcd_internal.h"

#include <errno.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/tide_json.h"
#include "common/util.h"

struct etcd_watch {
        struct store_watch base;
        struct etcd_store *s;
        char *prefix;
        int64_t next_rev; /* the first revision not yet queued: where a new stream starts */
        CURLM *multi;
        CURL *easy; /* the stream, NULL between streams */
        struct curl_slist *headers;
        char *body; /* the current stream's request */
        size_t endpoint;
        struct strbuf line; /* the start of a line whose end has not arrived */
        bool created;       /* the current stream was accepted */
        bool cancel;        /* the current stream must end (a cancellation or a bad line) */
        int failures;       /* streams in a row that ended before being accepted */
        int64_t reconnect_at;
        struct store_events queue;
        size_t queue_cap;
        int error; /* sticky: TIDE_E_COMPACTED */
};

static struct etcd_watch *etcd_watch(struct store_watch *w) {
        return (struct etcd_watch *) w;
}

static void queue_push(struct etcd_watch *w, struct store_event *ev) {
        if (w->queue.n == w->queue_cap) {
                w->queue_cap = w->queue_cap ? w->queue_cap * 2 : 64;
                w->queue.items = xrealloc(w->queue.items, w->queue_cap * sizeof *w->queue.items);
        }
        w->queue.items[w->queue.n++] = *ev;
}

static int queue_events(struct etcd_watch *w, const json_t *events) {
        json_t *e;
        size_t i;
        json_array_foreach(events, i, e) {
                struct store_event ev = {};
                int r = etcd_kv_from_json(json_object_get(e, "kv"), &ev.kv);
                if (r < 0)
                        return r;
                if (streq(tide_json_str(e, "type", "PUT"), "DELETE")) {
                        ev.type = STORE_EVENT_DELETE;
                        free(ev.kv.value);
                        ev.kv.value = NULL;
                        ev.kv.value_len = 0;
                }
                /* Never again an event at or before one already queued (a resumed stream). */
                if (ev.kv.mod_rev < w->next_rev) {
                        store_kv_clear(&ev.kv);
                        continue;
                }
                queue_push(w, &ev);
        }
        /* A message holds whole revisions: the next stream starts after the last one. */
        if (w->queue.n > 0)
                w->next_rev = w->queue.items[w->queue.n - 1].kv.mod_rev + 1;
        return 0;
}

/* One message of the stream: {"result":{...}} or {"error":{...}}. */
static void handle_line(struct etcd_watch *w, const char *line, size_t n) {
        json_error_t jerr;
        _cleanup_json_ json_t *msg = json_loadb(line, n, 0, &jerr);
        json_t *result = json_object_get(msg, "result");
        if (!json_is_object(result)) {
                w->cancel = true; /* {"error":...}: the stream failed; resume elsewhere */
                return;
        }
        if (!etcd_same_cluster(w->s, result)) {
                w->cancel = true; /* another cluster's member: resume elsewhere */
                return;
        }
        if (tide_json_bool(result, "created", false)) {
                w->created = true;
                w->failures = 0;
        }
        if (tide_json_bool(result, "canceled", false)) {
                int64_t compact = 0;
                if (etcd_json_i64(result, "compact_revision", &compact) >= 0 && compact > 0)
                        w->error = TIDE_E_COMPACTED;
                w->cancel = true;
                return;
        }
        if (queue_events(w, json_object_get(result, "events")) < 0)
                w->cancel = true;
}

static size_t stream_write(char *data, size_t size, size_t n, void *userdata) {
        struct etcd_watch *w = userdata;
        size_t len = size * n;
        if (strbuf_append(&w->line, data, len) < 0)
                return 0;
        /* Messages end with a newline; chunks may cut them anywhere. */
        size_t start = 0;
        for (size_t i = w->line.len - len; i < w->line.len && !w->cancel; i++)
                if (w->line.buf[i] == '\n') {
                        if (i > start)
                                handle_line(w, w->line.buf + start, i - start);
                        start = i + 1;
                }
        if (w->cancel)
                return 0; /* ends the transfer */
        if (start > 0) {
                memmove(w->line.buf, w->line.buf + start, w->line.len - start);
                w->line.len -= start;
        }
        return len;
}

static void stream_start(struct etcd_watch *w) {
        _cleanup_json_ json_t *create = json_object();
        etcd_json_set_prefix(create, w->prefix);
        etcd_json_set_i64(create, "start_revision", w->next_rev);
        _cleanup_json_ json_t *req = json_pack("{s:O}", "create_request", create);
        free(w->body);
        w->body = tide_json_dump(req);

        CURL *c = curl_easy_init();
        if (!c)
                abort();
        etcd_curl_setup(c, w->headers);
        _cleanup_free_ char *url = xasprintf("%s/v3/watch", w->s->endpoints[w->endpoint]);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(w->body));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
        strbuf_clear(&w->line);
        w->created = false;
        w->cancel = false;
        w->easy = c;
        if (curl_multi_add_handle(w->multi, c) != CURLM_OK)
                abort();
}

/* The stream ended (etcd went away, cancelled it, or a test broke it): the next one starts on
 * the next endpoint, at once after a stream that had been accepted, else after a pause. */
static void stream_end(struct etcd_watch *w) {
        curl_multi_remove_handle(w->multi, w->easy);
        curl_easy_cleanup(w->easy);
        w->easy = NULL;
        strbuf_clear(&w->line);
        if (!w->created)
                w->failures++;
        w->endpoint = (w->endpoint + 1) % w->s->n_endpoints;
        int pause = w->failures == 0 ? 0 : w->failures < 5 ? 50 * w->failures : 500;
        w->reconnect_at = mono_ms() + pause;
}

static void drive(struct etcd_watch *w) {
        int running;
        curl_multi_perform(w->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(w->multi, &left)))
                if (m->msg == CURLMSG_DONE && m->easy_handle == w->easy)
                        stream_end(w);
}

int store_etcd_watch_new(struct store *base, const char *prefix, int64_t after_rev, struct store_watch **ret) {
        struct etcd_store *s = (struct etcd_store *) base;
        /* Whether the history after after_rev is still kept: a read at its first revision fails
         * with "compacted" if not (and with "future revision", which is fine, if it is ahead). */
        _cleanup_json_ json_t *req = json_object();
        etcd_json_set_b64(req, "key", "", 1);
        json_object_set_new(req, "keys_only", json_true());
        etcd_json_set_i64(req, "revision", after_rev + 1);
        _cleanup_json_ json_t *reply = NULL;
        int r = etcd_call(s, "/v3/kv/range", req, ETCD_REPEATABLE, &reply);
        if (r == TIDE_E_COMPACTED || r == TIDE_E_BACKEND)
                return r;

        struct etcd_watch *w = xcalloc(1, sizeof *w);
        w->s = s;
        w->prefix = xstrdup(prefix);
        w->next_rev = after_rev + 1;
        w->multi = curl_multi_init();
        if (!w->multi)
                abort();
        w->headers = etcd_headers();
        w->line = (struct strbuf) STRBUF_INIT(ETCD_REPLY_MAX);
        w->endpoint = atomic_load(&s->preferred) % s->n_endpoints;
        stream_start(w);
        drive(w);
        *ret = &w->base;
        return 0;
}

int store_etcd_watch_next(struct store_watch *base, int timeout_ms, struct store_events *ret) {
        struct etcd_watch *w = etcd_watch(base);
        int64_t deadline = mono_ms() + timeout_ms;
        for (;;) {
                if (w->queue.n > 0) {
                        int n = (int) w->queue.n;
                        *ret = w->queue;
                        w->queue = (struct store_events) {};
                        w->queue_cap = 0;
                        return n;
                }
                if (w->error)
                        return w->error;
                int64_t now = mono_ms();
                if (!w->easy && now >= w->reconnect_at)
                        stream_start(w);
                drive(w);
                if (w->queue.n > 0 || w->error)
                        continue;
                now = mono_ms();
                if (now >= deadline)
                        return 0;
                int64_t wait = deadline - now;
                if (!w->easy && w->reconnect_at - now < wait)
                        wait = w->reconnect_at - now > 0 ? w->reconnect_at - now : 0;
                curl_multi_poll(w->multi, NULL, 0, (int) wait, NULL);
        }
}

void store_etcd_watch_break(struct store_watch *base) {
        struct etcd_watch *w = etcd_watch(base);
        if (w->easy) {
                w->created = true; /* a break, not a failure: resume at once */
                stream_end(w);
        }
}

void store_etcd_watch_free(struct store_watch *base) {
        struct etcd_watch *w = etcd_watch(base);
        if (!w)
                return;
        if (w->easy) {
                curl_multi_remove_handle(w->multi, w->easy);
                curl_easy_cleanup(w->easy);
        }
        curl_multi_cleanup(w->multi);
        curl_slist_free_all(w->headers);
        store_events_clear(&w->queue);
        strbuf_clear(&w->line);
        free(w->body);
        free(w->prefix);
        free(w);
}
