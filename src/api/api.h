/* api.h — tided's REST/JSON API (docs/api.md): an HTTP server on TCP (token required) and on a
 * root-only unix socket, and the route table that dispatches to one file per resource. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct metrics;
struct sched_cache;

#define API_BODY_MAX (1024 * 1024)
#define API_DEFAULT_LISTEN "127.0.0.1:7480"

struct api_config {
        struct store *store;             /* borrowed */
        const char *state_dir;           /* images/, instances/ and the unix socket live here */
        const char *listen;              /* "ADDR:PORT" for TCP, NULL for none */
        const char *socket_path;         /* unix socket, NULL for none */
        const char *token;               /* bearer token required on TCP */
        const char *host_name;           /* this host's name (console logs of its instances are local) */
        const char *shared_dir;          /* storage every host mounts (images/ and instances/ live
                                          * there, not in state_dir); NULL for none */
        int64_t image_max_bytes;         /* the largest image taken (its files together); 0: 64 GiB */
        struct metrics *metrics;         /* borrowed: this tided's measurements; NULL for none */
        struct sched_cache *sched_cache; /* borrowed: placement's view of the hosts (same store);
                                          * NULL: each placement reads the hosts afresh */
};

struct api;

/* Starts the servers. ret gets the running API (api_free stops it). */
int api_new(const struct api_config *cfg, struct api **ret);
/* Stops the servers (waits for requests in progress) and frees; NULL is fine. */
void api_free(struct api *a);

/* What handlers see. */
struct api_request {
        const char *method;
        const char *path;
        const char *params[4]; /* the {} segments of the route, in order */
        json_t *body;          /* parsed JSON body, or NULL when there was none */
        struct api *api;
        void *conn; /* struct MHD_Connection, for query arguments */
};

struct api_reply {
        int status;
        json_t *json; /* owned; sent as application/json */
        char *text;   /* owned; sent as text/plain when json is NULL */
        size_t text_len;
        const char *content_type; /* for text or file; NULL: text/plain; charset=utf-8 */
        bool has_file;            /* send the file open on file_fd (owned; closed once sent), */
        int file_fd;              /* file_size bytes of it, when json and text are NULL */
        uint64_t file_size;
};

typedef int (*api_handler)(struct api_request *req, struct api_reply *rep);

struct api_route {
        const char *method;
        const char *pattern; /* "/v1/instances/{}/action": {} matches one segment */
        api_handler handler;
};

/* The route tables of each resource file. */
extern const struct api_route api_flavor_routes[];
extern const struct api_route api_image_routes[];
extern const struct api_route api_instance_routes[];
extern const struct api_route api_host_routes[];
extern const struct api_route api_server_group_routes[];
extern const struct api_route api_scaling_group_routes[];
extern const struct api_route api_stack_routes[];
extern const struct api_route api_placement_routes[];
extern const struct api_route api_metrics_routes[];
extern const struct api_route api_network_routes[];

/* The directory whose images/ and instances/ hold the images and the instances' files
 * (model_layout.h): the shared directory with --shared-dir, else the state directory.
 * Borrowed from cfg. */
const char *api_files_base(const struct api_config *cfg);

/* Forwards the request (its path and the query arguments named in query_keys, a NULL-ended
 * list; NULL for none) to the tided of host (its record's api_url) with this tided's token,
 * waiting a bounded time, and puts its answer into rep as it came (status, JSON or text).
 * Refused (rep gets the error, returned) when the request was itself forwarded (no loops),
 * the host is unknown or has no API address, or it cannot be reached. 0 when the host's
 * answer was a success, else an error code (its answer is in rep). */
int api_forward(struct api_request *req, struct api_reply *rep, const char *host, const char *const *query_keys);
/* Whether the request was forwarded by another tided (api_forward). */
bool api_forwarded(struct api_request *req);
/* Whether what host knows is to be asked of it: host is another host than this tided's, with
 * an API address in its record (simulated hosts, and hosts whose tided runs without --address,
 * have none), and the request was not forwarded already. */
bool api_should_forward(struct api_request *req, const char *host);

/* Accessors for handlers. */
struct store *api_store(struct api_request *req);
const struct api_config *api_config(struct api_request *req);
/* A query argument, or NULL. */
const char *api_query(struct api_request *req, const char *key);

/* Counts the instances whose member key (e.g. "flavor_id") equals id into *ret; when
 * ret_example is not NULL, it gets the name of one of them (new string), or NULL for none. */
int api_count_users(struct api_request *req, const char *key, const char *id, size_t *ret, char **ret_example);

/* Sets an error reply {"error":{"code","message"}} with the status for code; returns code. */
int api_error(struct api_reply *rep, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets a JSON reply (takes ownership of json); returns 0. */
int api_json(struct api_reply *rep, int status, json_t *json);
