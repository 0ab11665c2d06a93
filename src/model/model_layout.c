/* model_layout.c — store keys and state-directory paths (model_layout.h). Pure. */
#include "model/model_layout.h"

#include "common/util.h"

char *model_key_kind(enum model_kind k) {
        return xasprintf(MODEL_KEY_ROOT "%s/", model_kind_plural(k));
}

char *model_obj_key(enum model_kind k, const char *id) {
        return xasprintf(MODEL_KEY_ROOT "%s/%s", model_kind_plural(k), id);
}

char *model_name_key(enum model_kind k, const char *name) {
        return xasprintf(MODEL_KEY_NAMES "%s/%s", model_kind_plural(k), name);
}

char *model_key_event(const char *id) {
        return xasprintf(MODEL_KEY_EVENTS "%s", id);
}

char *model_key_host(const char *name) {
        return xasprintf(MODEL_KEY_HOSTS "%s", name);
}

char *model_key_hostlive(const char *name) {
        return xasprintf(MODEL_KEY_HOSTLIVE "%s", name);
}

char *model_key_hostconf(const char *name) {
        return xasprintf(MODEL_KEY_HOSTCONF "%s", name);
}

char *model_key_alloc(const char *name) {
        return xasprintf(MODEL_KEY_ALLOC "%s", name);
}

char *model_key_groupmembers(const char *group_id) {
        return xasprintf(MODEL_KEY_GROUPMEMBERS "%s", group_id);
}

char *model_key_groupstatus(const char *group_id) {
        return xasprintf(MODEL_KEY_GROUPSTATUS "%s", group_id);
}

char *model_key_measure_host(const char *host) {
        return xasprintf(MODEL_KEY_MEASURE "%s/", host);
}

char *model_key_measure(const char *host, const char *instance_id) {
        return xasprintf(MODEL_KEY_MEASURE "%s/%s", host, instance_id);
}

char *model_key_port(const char *id) {
        return xasprintf(MODEL_KEY_PORTS "%s", id);
}

char *model_key_ipam_network(const char *network_id) {
        return xasprintf(MODEL_KEY_IPAM "%s/", network_id);
}

char *model_key_ipam(const char *network_id, const char *ip) {
        return xasprintf(MODEL_KEY_IPAM "%s/%s", network_id, ip);
}

char *model_key_mac(const char *mac) {
        return xasprintf(MODEL_KEY_MACS "%s", mac);
}

char *model_key_segment(const char *type, const char *what) {
        return xasprintf(MODEL_KEY_SEGMENTS "%s/%s", type, what ? what : "");
}

/* <state_dir>/<dir>[/<id>[/<file>]]. */
static char *state_path(const char *state_dir, const char *dir, const char *id, const char *file) {
        if (!id)
                return xasprintf("%s/%s", state_dir, dir);
        return file ? xasprintf("%s/%s/%s/%s", state_dir, dir, id, file) : xasprintf("%s/%s/%s", state_dir, dir, id);
}

char *model_instance_path(const char *state_dir, const char *id, const char *file) {
        return state_path(state_dir, "instances", id, file);
}

char *model_image_path(const char *state_dir, const char *id, const char *file) {
        return state_path(state_dir, "images", id, file);
}

char *model_image_disk_name(const char *format) {
        return xasprintf("disk.%s", format);
}
