/* heat_priv.h — what heat.c (the sections of a template) and heat_values.c (the YAML document
 * and the values in it: intrinsic functions, properties, numbers) share. Not for use outside
 * src/ctl/heat*.c. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/util.h"

/* tide's limits (src/model/model.h; heat does not link the model, test_heat checks they agree). */
#define TIDE_NAME_LEN_MAX 63
#define MEMBERS_MAX 1000
#define POLICIES_MAX 16
#define USER_DATA_MAX (64 * 1024)
#define SECONDS_MAX 86400 /* a policy's window and cooldown */

#define DEPTH_MAX 8     /* nested functions */
#define PARAMS_MAX 1000 /* a template's parameters, resources, a str_replace's params */
#define RESOURCES_MAX 1000
#define REPLACE_PARAMS_MAX 100
#define RESOLVE_MAX \
        100000                 /* values resolved in one template: YAML aliases can make a
                                      * small template name the same nested functions again and
                                      * again (exponentially), which must not hold a CPU */
#define COOLDOWN_DEFAULT_S 300 /* tide's own default: see heat.h */
#define PERIOD_DEFAULT_S 60    /* Aodh's defaults */
#define EVALUATION_PERIODS_DEFAULT 1
#define VICTIM "oldest" /* Heat removes the oldest members first */

#define TYPES_SUPPORTED "OS::Heat::AutoScalingGroup, OS::Heat::ScalingPolicy, OS::Aodh::Alarm, OS::Ceilometer::Alarm"

enum kind { K_GROUP, K_POLICY, K_ALARM };

struct param {
        const char *name;
        const char *type;
        const char *value; /* NULL for comma_delimited_list and json: not usable as a scalar */
};

struct resource {
        const char *name;
        enum kind kind;
        size_t line;        /* the resource's name */
        yaml_node_t *props; /* NULL when it has none */
        /* groups */
        json_t *body;
        int64_t cooldown; /* -1: none given */
        /* policies */
        size_t group;
        char *adjust;
        int64_t cooldown_s;
        const struct resource *alarm;
        json_t *cond; /* metric, stat, above|below, for_s: from the alarm */
};

struct ctx {
        yaml_document_t *doc;
        const char *stack;
        json_t *given;
        struct param *params;
        size_t n_params;
        struct resource *res;
        size_t n_res;
        const char *cur; /* the resource being read: named in errors */
        char *err;
        size_t resolved; /* ht_resolve() calls so far (RESOLVE_MAX) */
};

struct val {
        const char *s; /* NULL: null or absent */
        size_t line;
        char *owned;
};

void ht_val_clear(struct val *v);
#define _cleanup_val_ _cleanup_(ht_val_clear)

/* Records the first error: "line N: resource 'R': message"; returns TIDE_E_INVALID. */
_printf_(3, 4) int ht_fail(struct ctx *c, size_t line, const char *fmt, ...);

/* ---- the document and its values (heat_values.c) ---- */

size_t ht_line_of(const yaml_node_t *n);

yaml_node_t *ht_node_at(struct ctx *c, int i);

bool ht_is_scalar(const yaml_node_t *n);

bool ht_is_map(const yaml_node_t *n);

bool ht_is_seq(const yaml_node_t *n);

const char *ht_text(const yaml_node_t *n);

/* YAML's null: an empty or ~ / null plain scalar. */
bool ht_is_null(const yaml_node_t *n);

bool ht_in_list(const char *s, const char *const *list);

size_t ht_map_size(const yaml_node_t *m);

size_t ht_seq_size(const yaml_node_t *s);

yaml_node_t *ht_seq_item(struct ctx *c, const yaml_node_t *s, size_t i);

/* The value of key in mapping m (NULL when absent or m is NULL); ret_key gets the key's node. */
yaml_node_t *ht_map_get(struct ctx *c, const yaml_node_t *m, const char *key, yaml_node_t **ret_key);

/* Checks that m's keys are scalars from known, each once. what names a key in the error
 * ("property", "server property", ...); hint (may be NULL) follows "is not supported". */
int ht_check_keys(struct ctx *c, const yaml_node_t *m, const char *const *known, const char *what, const char *hint);

const struct param *ht_param_find(struct ctx *c, const char *name);

/* Property key of m, resolved: 1 when given (not null), 0 when absent or null. */
int ht_prop(struct ctx *c, yaml_node_t *m, const char *key, struct val *ret);

/* An optionally signed decimal integer, nothing else (strtoll alone takes spaces). */
bool ht_int_text(const char *s);

int ht_prop_int(struct ctx *c, yaml_node_t *m, const char *key, int64_t min, int64_t max, size_t at, bool required,
                int64_t *ret);

bool ht_number_text(const char *s, double *ret);

/* YAML 1.1's booleans (what Heat's loader reads) and Heat's strings for them. */
int ht_bool_text(const char *s);

/* tide's names and ids: 1-63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
bool ht_tide_name_valid(const char *s);
