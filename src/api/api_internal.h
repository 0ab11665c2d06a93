/* api_internal.h — what the API's files expose to their tests and fuzz harnesses
 * (tests/fuzz): route matching and dispatch (api_server.c) and the judgement of qemu-img's
 * answer on an image's disk (api_images.c). Not for handlers: they see api.h. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "common/strbuf.h"

struct MHD_Connection;

/* The route tables dispatch searches, in order (api_n_route_tables of them, each ended by a
 * route whose method is NULL). */
extern const struct api_route *const api_route_tables[];
extern const size_t api_n_route_tables;

/* Whether path matches pattern, where each "{}" of the pattern matches one non-empty segment
 * (no '/'); at most 4 of them. On a match, params[0..] point to the segments, copied
 * NUL-terminated into buf (bufsz bytes, which must hold them all, else no match); params
 * beyond the pattern's {} are left alone. Pure. */
bool api_route_match(const char *pattern, const char *path, const char **params, char *buf, size_t bufsz);

/* A request's body as libmicrohttpd hands it over, capped at API_BODY_MAX. */
struct api_request_state {
        struct strbuf body;
        bool too_large;                  /* the body went over the cap */
        struct api_image_upload *upload; /* an image upload, whose body bypasses body */
};

/* Runs the handler of the first route of method that matches url (the body in st parsed as
 * JSON first) into rep; without one, rep gets 405 when a route of another method matches the
 * path, else 404, each with a JSON error and without touching api or conn; 413 when the body
 * was too large, 400 when it is not JSON. */
void api_dispatch(struct api *api, struct MHD_Connection *conn, const char *method, const char *url,
                  struct api_request_state *st, struct api_reply *rep);

/* Judges what `qemu-img info --output=json` answered about the disk at path: status is its exit
 * status (0: success), out its standard output and err its standard error (either may be
 * NULL). A disk is taken when qemu-img succeeded with a JSON object whose format is qcow2 or
 * raw, without a backing file or an external data file: returns 0 and ret gets that object
 * (caller's). Else rep gets an error naming path (TIDE_E_INVALID: not a disk tide takes;
 * TIDE_E_BACKEND: qemu-img gave no JSON) and that error is returned. Pure. */
int api_image_info_check(const char *path, int status, const char *out, const char *err, struct api_reply *rep,
                         json_t **ret);
