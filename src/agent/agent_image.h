/* agent_image.h — an image's files on the agent's host before an instance uses them: there
 * already (created here, or on shared storage), or copied on first use from a host that holds
 * them, checked against the record's sha256 (agent_image.c). */
#pragma once

#include <jansson.h>

#include "agent/agent.h"

/* The directory whose images/ and instances/ hold the images and the instances' files
 * (model_layout.h): cfg's shared directory when it has one, else its state directory.
 * Borrowed from cfg. */
const char *agent_files_base(const struct agent_config *cfg);
/* Makes sure image (its record) has its files under agent_files_base's images/ on host (this
 * agent's host, by name), for instance inst (named in events): copies them from another host
 * of the record's "hosts" when they are not here, and adds host to those. Blocks for the copy;
 * concurrent calls for one image copy it once. 0, or a negative error (logged, and an
 * image.copy_failed event) when no host could give a whole and right copy: nothing is then
 * left of it here. */
int agent_image_ensure(const struct agent_config *cfg, const char *host, json_t *inst, json_t *image);
/* Fetches url (a peer tided's API, with token) into path (created or truncated, private,
 * fsynced) and checks it against want ({"size","sha256"}). 0, or an error with *ret_why (a new
 * string); on an error path may hold part of it. */
int agent_fetch_file(const char *url, const char *token, const char *path, json_t *want, char **ret_why);
/* Removes this host's copies of images whose record is gone (deleted through any tided), made
 * at least a minute ago; nothing with shared storage (the deleting tided removes the shared
 * copy). Store errors leave everything as it is. */
void agent_image_sweep(const struct agent_config *cfg);
