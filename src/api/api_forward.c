/* api_forward.c — what only the host of an instance can answer (its console log, its
 * measurements), asked of any tided: the request goes on to that host's tided (its api_url, in
 * its host record) with this tided's token — every host of a pool has the same — and its answer
 * comes back as it was. Answers are bounded (a console chunk is at most 1 MiB, stats are small)
 * and so are the waits. A forwarded request carries X-Tide-Forwarded and is never forwarded
 * again. */
#include "api.h"

#include <curl/curl.h>
#include <microhttpd.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "model/model.h"

#define FORWARD_HEADER "X-Tide-Forwarded"
#define FORWARD_CONNECT_TIMEOUT_MS 3000
#define FORWARD_TIMEOUT_MS 15000
#define FORWARD_BODY_MAX (4 * 1024 * 1024)

static size_t collect(char *data, size_t size, size_t n, void *userdata) {
        return strbuf_append(userdata, data, size * n) < 0 ? 0 : size * n;
}

bool api_forwarded(struct api_request *req) {
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, FORWARD_HEADER) != NULL;
}

bool api_should_forward(struct api_request *req, const char *host) {
        if (!host || !*host || streq(host, api_config(req)->host_name ?: "") || api_forwarded(req))
                return false;
        _cleanup_json_ json_t *rec = NULL;
        return model_host_get(api_store(req), host, &rec) >= 0 && tide_json_str(rec, "api_url", NULL);
}

int api_forward(struct api_request *req, struct api_reply *rep, const char *host, const char *const *query_keys) {
        const struct api_config *cfg = api_config(req);
        if (api_forwarded(req))
                return api_error(rep, TIDE_E_CONFLICT, "host '%s' is not this host (%s), which was asked by another",
                                 host, cfg->host_name ?: "");
        _cleanup_json_ json_t *rec = NULL;
        int r = model_host_get(api_store(req), host, &rec);
        if (r < 0)
                return api_error(rep, r, "host '%.64s': %s", host, tide_strerror(r));
        const char *base = tide_json_str(rec, "api_url", NULL);
        if (!base)
                return api_error(rep, TIDE_E_UNSUPPORTED,
                                 "host '%s' has no API address (its tided runs without --address): ask it directly",
                                 host);
        CURL *c = curl_easy_init();
        if (!c)
                return api_error(rep, TIDE_E_BACKEND, "curl cannot start");
        struct strbuf url = { .max = 8192 };
        strbuf_printf(&url, "%s%s", base, req->path);
        char sep = '?';
        for (size_t i = 0; query_keys && query_keys[i]; i++) {
                const char *v = api_query(req, query_keys[i]);
                if (!v)
                        continue;
                char *e = curl_easy_escape(c, v, 0);
                strbuf_printf(&url, "%c%s=%s", sep, query_keys[i], e ? e : "");
                curl_free(e);
                sep = '&';
        }
        _cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", cfg->token ? cfg->token : "");
        _cleanup_free_ char *from = xasprintf(FORWARD_HEADER ": %s", cfg->host_name ? cfg->host_name : "");
        struct curl_slist *headers = curl_slist_append(NULL, auth);
        headers = curl_slist_append(headers, from);
        struct strbuf body = { .max = FORWARD_BODY_MAX };
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, strbuf_str(&url));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) FORWARD_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) FORWARD_TIMEOUT_MS);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        char *ctype = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
        bool json = ctype && startswith(ctype, "application/json");
        curl_easy_cleanup(c);
        curl_slist_free_all(headers);
        strbuf_clear(&url);
        if (cc != CURLE_OK) {
                strbuf_clear(&body);
                return api_error(rep, TIDE_E_BACKEND, "asking host '%s' (%s): %s", host, base,
                                 *errbuf ? errbuf : curl_easy_strerror(cc));
        }
        /* The answer goes back as it came: JSON (an answer or tided's error) or text. */
        rep->status = (int) status;
        rep->text_len = body.len;
        rep->text = strbuf_steal(&body);
        rep->content_type = json ? "application/json" : NULL;
        return status >= 200 && status < 300 ? 0 : TIDE_E_BACKEND;
}
