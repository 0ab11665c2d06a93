/* api_images.h — what the image routes share between the import of files from tided's host
 * (api_images.c) and the upload of their content (api_image_upload.c): the staging directory
 * of a new image and its commit into the store. Private to src/api.
 *
 * A new image's files are written into <images>/<id>.tmp (never used: no record names it),
 * checked, then renamed to <images>/<id> and recorded in one step (api_image_commit); on any
 * failure the staging directory goes and nothing of the image is left. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "api/api.h"
#include "common/sha256.h"

/* 64 GiB: the default of the largest image (its files together) tided takes. */
#define API_IMAGE_MAX_DEFAULT (64LL << 30)

struct api_image_stage {
        char *id;      /* the new image's id */
        char *tmp;     /* its staging directory */
        json_t *files; /* {"<file name>": {"size": N, "sha256": "<hex>"}}, filled as files land */
        bool committed;
};

/* The largest image cfg takes, in bytes. */
int64_t api_image_max(const struct api_config *cfg);
/* Makes a new id and its staging directory (private modes: fs_private.h). 0, or an error in
 * rep (returned). */
int api_image_stage_begin(const struct api_config *cfg, struct api_image_stage *st, struct api_reply *rep);
/* Records that file name of size bytes with that digest is in the staging directory. */
void api_image_stage_add(struct api_image_stage *st, const char *name, int64_t size, const char *sha256_hex);
/* Removes the staging directory unless committed, frees. */
void api_image_stage_clear(struct api_image_stage *st);

/* Runs `qemu-img info --output=json` on path (format probed when format is NULL, else given)
 * and checks the disk (api_image_info_check), whose errors name it shown (NULL: path). ret
 * gets qemu-img's answer. 0 or an error in rep. */
int api_image_inspect(const char *path, const char *format, const char *shown, struct api_reply *rep, json_t **ret);

/* Commits a staged image whose disk, already checked, is disk.<format> in the staging
 * directory: renames it into place and stores the record built from img (name, cmdline,
 * kernel and initrd as true when present, source: where the files came from; img is taken)
 * and info (qemu-img's answer on the disk). The record also lists the files with their sizes
 * and digests and this host as one that holds them. On success rep gets 201 with the record;
 * on failure rep gets the error, returned, and nothing is left. */
int api_image_commit(struct api_request *req, struct api_image_stage *st, json_t *img, json_t *info,
                     struct api_reply *rep);

/* The upload of an image's files (api_image_upload.c): POST /v1/images with a
 * multipart/form-data body, fed to it piece by piece as it arrives. */
struct api_image_upload;
struct MHD_Connection;

/* Whether the request is an upload (POST /v1/images, multipart/form-data). */
bool api_image_upload_wanted(const char *method, const char *url, struct MHD_Connection *conn);
/* Starts an upload when the request's headers are in: refuses a body announced over the size
 * limit (413) and makes the staging directory. 0 with ret set, or an error in rep. */
int api_image_upload_new(const struct api_config *cfg, struct MHD_Connection *conn, struct api_image_upload **ret,
                         struct api_reply *rep);
/* Takes the next piece of the body. The first error is kept for the answer and the rest of the
 * body discarded; TIDE_E_TOO_LARGE when the body went over the size limit (the caller closes
 * the connection), else 0. */
int api_image_upload_feed(struct api_image_upload *u, const char *data, size_t size);
/* Once the body is in: checks and commits the image. rep gets 201 and the record, or the
 * error (returned). */
int api_image_upload_finish(struct api_image_upload *u, struct api_request *req, struct api_reply *rep);
/* Removes what an unfinished upload staged and frees; NULL is fine. */
void api_image_upload_free(struct api_image_upload *u);
