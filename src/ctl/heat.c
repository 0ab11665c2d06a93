/* heat.c — Heat templates (HOT) into tide's autoscaling groups; heat.h gives the subset and its
 * rules. Pure: the template is parsed into a libyaml document (nodes keep their marks, so every
 * error names its line), read in passes (parameters, resources, groups, policies, alarms) and
 * assembled only when every pass succeeded. */
#include "ctl/heat.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <yaml.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

/* tide's limits (src/model/model.h; heat does not link the model, test_heat checks they agree). */
#define TIDE_NAME_LEN_MAX 63
#define MEMBERS_MAX 1000
#define POLICIES_MAX 16
#define USER_DATA_MAX (64 * 1024)
#define SECONDS_MAX 86400            /* a policy's window and cooldown */

#define DEPTH_MAX 8                  /* nested functions */
#define PARAMS_MAX 1000              /* a template's parameters, resources, a str_replace's params */
#define RESOURCES_MAX 1000
#define REPLACE_PARAMS_MAX 100
#define RESOLVE_MAX 100000           /* values resolved in one template: YAML aliases can make a
                                      * small template name the same nested functions again and
                                      * again (exponentially), which must not hold a CPU */
#define COOLDOWN_DEFAULT_S 300       /* tide's own default: see heat.h */
#define PERIOD_DEFAULT_S 60          /* Aodh's defaults */
#define EVALUATION_PERIODS_DEFAULT 1
#define VICTIM "oldest"              /* Heat removes the oldest members first */

static const char *const hot_versions[] = {
        "2013-05-23", "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08", "2016-10-14", "2017-02-24",
        "2017-09-01", "2018-03-02", "2018-08-31", "2021-04-16", "newton",     "ocata",      "pike",
        "queens",     "rocky",      "wallaby",    NULL,
};

/* Functions a template may use that tide does not: named in the error where they are read. */
static const char *const other_functions[] = {
        "get_file", "list_join", "repeat", "digest", "resource_facade", "str_split", "map_merge", "map_replace",
        "yaql", "equals", "if", "not", "and", "or", "contains", "filter", "make_url", "list_concat",
        "list_concat_unique", NULL,
};

#define TYPES_SUPPORTED "OS::Heat::AutoScalingGroup, OS::Heat::ScalingPolicy, OS::Aodh::Alarm, OS::Ceilometer::Alarm"

enum kind { K_GROUP, K_POLICY, K_ALARM };

struct param {
        const char *name;
        const char *type;
        const char *value;           /* NULL for comma_delimited_list and json: not usable as a scalar */
};

struct resource {
        const char *name;
        enum kind kind;
        size_t line;                 /* the resource's name */
        yaml_node_t *props;          /* NULL when it has none */
        /* groups */
        json_t *body;
        int64_t cooldown;            /* -1: none given */
        /* policies */
        size_t group;
        char *adjust;
        int64_t cooldown_s;
        const struct resource *alarm;
        json_t *cond;                /* metric, stat, above|below, for_s: from the alarm */
};

struct ctx {
        yaml_document_t *doc;
        const char *stack;
        json_t *given;
        struct param *params;
        size_t n_params;
        struct resource *res;
        size_t n_res;
        const char *cur;             /* the resource being read: named in errors */
        char *err;
        size_t resolved;             /* resolve() calls so far (RESOLVE_MAX) */
};

struct val {
        const char *s;               /* NULL: null or absent */
        size_t line;
        char *owned;
};

static void val_clear(struct val *v) {
        free(v->owned);
        *v = (struct val) { 0 };
}

#define _cleanup_val_ _cleanup_(val_clear)

/* Records the first error: "line N: resource 'R': message"; returns TIDE_E_INVALID. */
_printf_(3, 4) static int fail(struct ctx *c, size_t line, const char *fmt, ...) {
        if (c->err)
                return TIDE_E_INVALID;
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = xvasprintf(fmt, ap);
        va_end(ap);
        _cleanup_free_ char *where = line ? xasprintf("line %zu: ", line) : xstrdup("");
        c->err = c->cur ? xasprintf("%sresource '%s': %s", where, c->cur, m) : xasprintf("%s%s", where, m);
        return TIDE_E_INVALID;
}

/* ---- the document ---- */

static size_t line_of(const yaml_node_t *n) {
        return n ? n->start_mark.line + 1 : 0;
}

static yaml_node_t *node_at(struct ctx *c, int i) {
        return yaml_document_get_node(c->doc, i);
}

static bool is_scalar(const yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE;
}

static bool is_map(const yaml_node_t *n) {
        return n && n->type == YAML_MAPPING_NODE;
}

static bool is_seq(const yaml_node_t *n) {
        return n && n->type == YAML_SEQUENCE_NODE;
}

static const char *text(const yaml_node_t *n) {
        return (const char *) n->data.scalar.value;
}

/* YAML's null: an empty or ~ / null plain scalar. */
static bool is_null(const yaml_node_t *n) {
        if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        const char *s = text(n);
        return !*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

static bool in_list(const char *s, const char *const *list) {
        for (; *list; list++)
                if (streq(s, *list))
                        return true;
        return false;
}

static size_t map_size(const yaml_node_t *m) {
        return (size_t) (m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

static size_t seq_size(const yaml_node_t *s) {
        return (size_t) (s->data.sequence.items.top - s->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct ctx *c, const yaml_node_t *s, size_t i) {
        return node_at(c, s->data.sequence.items.start[i]);
}

/* The value of key in mapping m (NULL when absent or m is NULL); ret_key gets the key's node. */
static yaml_node_t *map_get(struct ctx *c, const yaml_node_t *m, const char *key, yaml_node_t **ret_key) {
        if (!is_map(m))
                return NULL;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
                yaml_node_t *k = node_at(c, p->key);
                if (is_scalar(k) && streq(text(k), key)) {
                        if (ret_key)
                                *ret_key = k;
                        return node_at(c, p->value);
                }
        }
        return NULL;
}

/* Checks that m's keys are scalars from known, each once. what names a key in the error
 * ("property", "server property", ...); hint (may be NULL) follows "is not supported". */
static int check_keys(struct ctx *c, const yaml_node_t *m, const char *const *known, const char *what,
                      const char *hint) {
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
                yaml_node_t *k = node_at(c, p->key);
                if (!is_scalar(k))
                        return fail(c, line_of(k), "a %s's name must be a string", what);
                if (streq(text(k), "<<"))
                        return fail(c, line_of(k), "YAML merge keys (<<) are not supported");
                for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
                        if (streq(text(node_at(c, q->key)), text(k)))
                                return fail(c, line_of(k), "%s '%s' is given twice", what, text(k));
                if (!in_list(text(k), known))
                        return fail(c, line_of(k), "%s '%s' is not supported%s", what, text(k), hint ? hint : "");
        }
        return 0;
}

/* ---- values ---- */

static int resolve(struct ctx *c, yaml_node_t *n, const char *what, int depth, struct val *ret);

static const struct param *param_find(struct ctx *c, const char *name) {
        for (size_t i = 0; i < c->n_params; i++)
                if (streq(c->params[i].name, name))
                        return &c->params[i];
        return NULL;
}

static int get_param(struct ctx *c, yaml_node_t *arg, size_t line, const char *what, struct val *ret) {
        if (is_seq(arg) && seq_size(arg) > 1)
                return fail(c, line, "'%s': get_param with a path into a parameter is not supported", what);
        if (is_seq(arg) && seq_size(arg) == 1)
                arg = seq_item(c, arg, 0);
        if (!is_scalar(arg) || is_null(arg))
                return fail(c, line, "'%s': get_param takes a parameter's name", what);
        const char *name = text(arg);
        if (streq(name, "OS::stack_name")) {
                *ret = (struct val) { .s = c->stack, .line = line };
                return 0;
        }
        if (startswith(name, "OS::"))
                return fail(c, line, "'%s': the pseudo parameter %s is not available in tide", what, name);
        const struct param *p = param_find(c, name);
        if (!p)
                return fail(c, line, "'%s': get_param names '%s', which is not a parameter of the template", what, name);
        if (!p->value)
                return fail(c, line, "'%s': parameter '%s' is a %s; a single value is needed here", what, name, p->type);
        *ret = (struct val) { .s = p->value, .line = line };
        return 0;
}

struct repl {
        const char *key;
        struct val value;
};

/* Heat's order: longer keys first, then the lexicographically smaller. */
static int repl_cmp(const void *a, const void *b) {
        const struct repl *x = a, *y = b;
        size_t lx = strlen(x->key), ly = strlen(y->key);
        return lx != ly ? (lx > ly ? -1 : 1) : strcmp(x->key, y->key);
}

/* Appends s[0..n) with the keys from k on replaced; replaced text is not searched again. */
static int replace_into(struct strbuf *b, const char *s, size_t n, const struct repl *keys, size_t k, size_t n_keys,
                        bool *used) {
        if (k == n_keys)
                return strbuf_append(b, s, n);
        size_t klen = strlen(keys[k].key);
        const char *end = s + n;
        int r;
        for (;;) {
                const char *hit = klen ? memmem(s, (size_t) (end - s), keys[k].key, klen) : NULL;
                if (!hit)
                        return replace_into(b, s, (size_t) (end - s), keys, k + 1, n_keys, used);
                if ((r = replace_into(b, s, (size_t) (hit - s), keys, k + 1, n_keys, used)) < 0 ||
                    (r = strbuf_puts(b, keys[k].value.s ? keys[k].value.s : "")) < 0)
                        return r;
                used[k] = true;
                s = hit + klen;
        }
}

/* {str_replace: {template: T, params: {KEY: VALUE, ...}}}; _strict: every key must occur;
 * _vstrict: and no value may be empty. */
static int str_replace(struct ctx *c, const char *fn, yaml_node_t *arg, size_t line, const char *what, int depth,
                       struct val *ret) {
        static const char *const keys[] = { "template", "params", NULL };
        bool strict = !streq(fn, "str_replace"), vstrict = streq(fn, "str_replace_vstrict");
        int r;
        if (!is_map(arg))
                return fail(c, line, "'%s': %s takes {template: ..., params: {...}}", what, fn);
        if ((r = check_keys(c, arg, keys, "function key", NULL)) < 0)
                return r;
        yaml_node_t *tmpl = map_get(c, arg, "template", NULL), *params = map_get(c, arg, "params", NULL);
        if (!tmpl || !params || !is_map(params))
                return fail(c, line, "'%s': %s takes {template: ..., params: {...}}", what, fn);
        _cleanup_val_ struct val t = { 0 };
        if ((r = resolve(c, tmpl, what, depth + 1, &t)) < 0)
                return r;
        if (!t.s)
                return fail(c, line_of(tmpl), "'%s': %s's template must be a string", what, fn);
        size_t n = map_size(params);
        if (n > REPLACE_PARAMS_MAX)
                return fail(c, line, "'%s': %s has more than %d params", what, fn, REPLACE_PARAMS_MAX);
        _cleanup_free_ struct repl *reps = xcalloc(n ? n : 1, sizeof *reps);
        _cleanup_free_ bool *used = xcalloc(n ? n : 1, sizeof *used);
        size_t i = 0;
        for (yaml_node_pair_t *p = params->data.mapping.pairs.start; p < params->data.mapping.pairs.top; p++, i++) {
                yaml_node_t *k = node_at(c, p->key);
                if (!is_scalar(k) || is_null(k)) {
                        r = fail(c, line_of(k), "'%s': %s's params are named by strings", what, fn);
                        break;
                }
                reps[i].key = text(k);
                for (size_t j = 0; j < i; j++)
                        if (streq(reps[j].key, reps[i].key))
                                r = fail(c, line_of(k), "'%s': %s's param '%s' is given twice", what, fn, reps[i].key);
                if (r < 0 || (r = resolve(c, node_at(c, p->value), what, depth + 1, &reps[i].value)) < 0)
                        break;
                if (vstrict && (!reps[i].value.s || !*reps[i].value.s)) {
                        r = fail(c, line_of(k), "'%s': %s's param '%s' is empty", what, fn, reps[i].key);
                        break;
                }
        }
        struct strbuf b = STRBUF_INIT(HEAT_TEMPLATE_MAX);
        if (r >= 0) {
                qsort(reps, n, sizeof *reps, repl_cmp);
                if (replace_into(&b, t.s, strlen(t.s), reps, 0, n, used) < 0)
                        r = fail(c, line, "'%s': %s makes a string longer than %d bytes", what, fn, HEAT_TEMPLATE_MAX);
        }
        for (i = 0; r >= 0 && strict && i < n; i++)
                if (!used[i])
                        r = fail(c, line, "'%s': %s's param '%s' is not in the template", what, fn, reps[i].key);
        for (i = 0; i < n; i++)
                val_clear(&reps[i].value);
        if (r < 0) {
                strbuf_clear(&b);
                return r;
        }
        ret->owned = strbuf_steal(&b);
        ret->s = ret->owned;
        ret->line = line;
        return 0;
}

/* The scalar value of n, with get_param and str_replace applied; ret->s is NULL for null.
 * what names the value in errors. */
static int resolve(struct ctx *c, yaml_node_t *n, const char *what, int depth, struct val *ret) {
        size_t line = line_of(n);
        if (depth > DEPTH_MAX)
                return fail(c, line, "'%s': functions nested more than %d deep", what, DEPTH_MAX);
        if (++c->resolved > RESOLVE_MAX)
                return fail(c, line, "'%s': the template's functions expand to more than %d values (YAML aliases "
                            "naming the same functions again and again?)", what, RESOLVE_MAX);
        if (is_scalar(n)) {
                *ret = (struct val) { .s = is_null(n) ? NULL : text(n), .line = line };
                return 0;
        }
        if (is_seq(n))
                return fail(c, line, "'%s' must be a single value, not a list", what);
        yaml_node_t *k = map_size(n) == 1 ? node_at(c, n->data.mapping.pairs.start[0].key) : NULL;
        yaml_node_t *arg = k ? node_at(c, n->data.mapping.pairs.start[0].value) : NULL;
        const char *fn = is_scalar(k) ? text(k) : "";
        if (streq(fn, "get_param"))
                return get_param(c, arg, line, what, ret);
        if (streq(fn, "str_replace") || streq(fn, "str_replace_strict") || streq(fn, "str_replace_vstrict"))
                return str_replace(c, fn, arg, line, what, depth, ret);
        if (streq(fn, "get_resource") || streq(fn, "get_attr"))
                return fail(c, line, "'%s': %s is only supported in a policy's auto_scaling_group_id and an alarm's "
                            "alarm_actions", what, fn);
        if (in_list(fn, other_functions) || startswith(fn, "Fn::"))
                return fail(c, line, "'%s': function %s is not supported (get_param and str_replace are)", what, fn);
        return fail(c, line, "'%s' must be a single value, not a mapping", what);
}

/* Property key of m, resolved: 1 when given (not null), 0 when absent or null. */
static int prop(struct ctx *c, yaml_node_t *m, const char *key, struct val *ret) {
        yaml_node_t *n = map_get(c, m, key, NULL);
        if (!n)
                return 0;
        int r = resolve(c, n, key, 0, ret);
        if (r < 0)
                return r;
        if (!ret->s) {
                val_clear(ret);
                return 0;
        }
        return 1;
}

/* An optionally signed decimal integer, nothing else (strtoll alone takes spaces). */
static bool int_text(const char *s) {
        const char *d = s + (*s == '+' || *s == '-');
        return *d && strspn(d, "0123456789") == strlen(d) && strlen(d) <= 18;
}

static int prop_int(struct ctx *c, yaml_node_t *m, const char *key, int64_t min, int64_t max, size_t at, bool required,
                    int64_t *ret) {
        _cleanup_val_ struct val v = { 0 };
        int r = prop(c, m, key, &v);
        if (r < 0)
                return r;
        if (r == 0)
                return required ? fail(c, at, "'%s' is required", key) : 0;
        int64_t x;
        if (!int_text(v.s) || parse_int64(v.s, min, max, &x) < 0)
                return fail(c, v.line, "'%s' must be an integer from %lld to %lld: got '%.32s'", key, (long long) min,
                            (long long) max, v.s);
        *ret = x;
        return 1;
}

static bool number_text(const char *s, double *ret) {
        if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
                return false;
        char *end;
        double d = strtod(s, &end);
        if (*end || !isfinite(d))
                return false;
        *ret = d;
        return true;
}

/* YAML 1.1's booleans (what Heat's loader reads) and Heat's strings for them. */
static int bool_text(const char *s) {
        static const char *const yes[] = { "true", "yes", "on", "y", "t", "1", NULL };
        static const char *const no[] = { "false", "no", "off", "n", "f", "0", NULL };
        for (size_t i = 0; yes[i]; i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -1;
}

/* tide's names and ids: 1-63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
static bool tide_name_valid(const char *s) {
        size_t n = strlen(s);
        /* model_name_valid()'s rule: "a..b" could be taken for a path step by a tool. */
        return n >= 1 && n <= TIDE_NAME_LEN_MAX && isalnum((unsigned char) s[0]) &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n && !strstr(s, "..");
}

/* ---- sections ---- */

static int read_version(struct ctx *c, yaml_node_t *root) {
        yaml_node_t *k = NULL, *v = map_get(c, root, "heat_template_version", &k);
        if (!v)
                return fail(c, line_of(root), "heat_template_version is required (e.g. heat_template_version: 2018-08-31)");
        if (!is_scalar(v) || !in_list(text(v), hot_versions))
                return fail(c, line_of(v), "heat_template_version '%.32s' is not a HOT version: 2013-05-23 ... "
                            "2018-08-31, 2021-04-16 or newton ... wallaby", is_scalar(v) ? text(v) : "?");
        return 0;
}

static int read_params(struct ctx *c, yaml_node_t *root) {
        static const char *const keys[] = {
                "type", "default", "description", "label", "hidden", "constraints", "immutable", "tags", NULL,
        };
        static const char *const types[] = { "string", "number", "boolean", "comma_delimited_list", "json", NULL };
        yaml_node_t *sec_key = NULL, *sec = map_get(c, root, "parameters", &sec_key);
        int r;
        if (sec && !is_null(sec) && !is_map(sec))
                return fail(c, line_of(sec_key), "parameters must be a mapping of parameter names to their declarations");
        size_t n = is_map(sec) ? map_size(sec) : 0;
        if (n > PARAMS_MAX)
                return fail(c, line_of(sec_key), "a template has at most %d parameters", PARAMS_MAX);
        /* Every --parameter must be one the template declares (before a missing one is reported:
         * a misspelt name explains both). */
        const char *given_name;
        json_t *v;
        json_object_foreach(c->given, given_name, v)
                if (!map_get(c, sec, given_name, NULL)) {
                        struct strbuf names = STRBUF_INIT(0);
                        for (size_t i = 0; i < n; i++) {
                                yaml_node_t *k = node_at(c, sec->data.mapping.pairs.start[i].key);
                                strbuf_printf(&names, "%s%s", i ? ", " : "", is_scalar(k) ? text(k) : "?");
                        }
                        r = fail(c, 0, "unknown parameter '%s': the template declares %s", given_name,
                                 n ? strbuf_str(&names) : "none");
                        strbuf_clear(&names);
                        return r;
                }
        c->params = xcalloc(n ? n : 1, sizeof *c->params);
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *k = node_at(c, sec->data.mapping.pairs.start[i].key);
                yaml_node_t *decl = node_at(c, sec->data.mapping.pairs.start[i].value);
                if (!is_scalar(k) || is_null(k))
                        return fail(c, line_of(k), "a parameter's name must be a string");
                const char *name = text(k);
                if (param_find(c, name))
                        return fail(c, line_of(k), "parameter '%s' is declared twice", name);
                if (!is_map(decl))
                        return fail(c, line_of(k), "parameter '%s' must be a mapping with its type", name);
                if ((r = check_keys(c, decl, keys, "parameter key", NULL)) < 0)
                        return r;
                yaml_node_t *type = map_get(c, decl, "type", NULL);
                if (!type)
                        return fail(c, line_of(k), "parameter '%s' has no type", name);
                if (!is_scalar(type) || !in_list(text(type), types))
                        return fail(c, line_of(type), "parameter '%s': type must be string, number, boolean, "
                                    "comma_delimited_list or json", name);
                struct param *p = &c->params[c->n_params++];
                *p = (struct param) { .name = name, .type = text(type) };
                bool scalar = streq(p->type, "string") || streq(p->type, "number") || streq(p->type, "boolean");
                json_t *given = json_object_get(c->given, name);
                yaml_node_t *def = map_get(c, decl, "default", NULL);
                size_t line = line_of(k);
                if (given) {
                        if (!json_is_string(given))
                                return fail(c, 0, "--parameter %s: the value must be a string", name);
                        p->value = json_string_value(given);
                } else if (def && !is_null(def)) {
                        if (scalar && !is_scalar(def))
                                return fail(c, line_of(def), "parameter '%s': the default of a %s must be a single value",
                                            name, p->type);
                        p->value = is_scalar(def) ? text(def) : NULL;
                        line = line_of(def);
                } else
                        return fail(c, line_of(k), "parameter '%s' has no default: give it with --parameter %s=VALUE", name,
                                    name);
                if (!scalar)
                        p->value = NULL;
                double d;
                if (streq(p->type, "number") && !number_text(p->value, &d))
                        return fail(c, given ? 0 : line, "parameter '%s' is a number: got '%.32s'", name, p->value);
                if (streq(p->type, "boolean") && bool_text(p->value) < 0)
                        return fail(c, given ? 0 : line, "parameter '%s' is a boolean: got '%.32s'", name, p->value);
        }
        return 0;
}

/* A type naming a template file or URL: a nested stack. */
static bool nested_type(const char *t) {
        return strchr(t, '/') || endswith(t, ".yaml") || endswith(t, ".yml") || endswith(t, ".template") ||
               endswith(t, ".json");
}

static int read_resources(struct ctx *c, yaml_node_t *root) {
        static const char *const keys[] = {
                "type", "properties", "metadata", "depends_on", "update_policy", "deletion_policy", "description", NULL,
        };
        yaml_node_t *key = NULL, *sec = map_get(c, root, "resources", &key);
        int r;
        if (!sec)
                return fail(c, line_of(root), "resources is required");
        if (!is_map(sec) || map_size(sec) == 0)
                return fail(c, line_of(key), "resources must be a mapping of resource names to resources");
        size_t n = map_size(sec), groups = 0;
        if (n > RESOURCES_MAX)
                return fail(c, line_of(key), "a template has at most %d resources", RESOURCES_MAX);
        c->res = xcalloc(n, sizeof *c->res);
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *k = node_at(c, sec->data.mapping.pairs.start[i].key);
                yaml_node_t *def = node_at(c, sec->data.mapping.pairs.start[i].value);
                if (!is_scalar(k) || is_null(k))
                        return fail(c, line_of(k), "a resource's name must be a string");
                for (size_t j = 0; j < c->n_res; j++)
                        if (streq(c->res[j].name, text(k)))
                                return fail(c, line_of(k), "resource '%s' is declared twice", text(k));
                struct resource *res = &c->res[c->n_res++];
                *res = (struct resource) { .name = text(k), .line = line_of(k), .cooldown = -1 };
                c->cur = res->name;
                if (!is_map(def))
                        return fail(c, line_of(k), "a resource must be a mapping with its type");
                if ((r = check_keys(c, def, keys, "resource key", NULL)) < 0)
                        return r;
                yaml_node_t *type = map_get(c, def, "type", NULL);
                if (!type)
                        return fail(c, line_of(k), "the resource has no type");
                if (!is_scalar(type) || is_null(type))
                        return fail(c, line_of(type), "the type must be a resource type's name");
                const char *t = text(type);
                c->cur = NULL;
                if (streq(t, "OS::Heat::AutoScalingGroup"))
                        res->kind = K_GROUP;
                else if (streq(t, "OS::Heat::ScalingPolicy"))
                        res->kind = K_POLICY;
                else if (streq(t, "OS::Aodh::Alarm") || streq(t, "OS::Ceilometer::Alarm"))
                        res->kind = K_ALARM;
                else if (nested_type(t))
                        return fail(c, res->line, "resource '%s' of type %s: nested templates are not supported",
                                    res->name, t);
                else
                        return fail(c, res->line, "resource '%s' of type %s is not supported (" TYPES_SUPPORTED ")",
                                    res->name, t);
                c->cur = res->name;
                yaml_node_t *props = map_get(c, def, "properties", NULL);
                if (props && !is_null(props) && !is_map(props))
                        return fail(c, line_of(props), "properties must be a mapping");
                res->props = is_map(props) ? props : NULL;
                groups += res->kind == K_GROUP;
                c->cur = NULL;
        }
        if (!groups)
                return fail(c, line_of(key), "the template has no OS::Heat::AutoScalingGroup: nothing to create");
        return 0;
}

#define SERVER_HINT \
        ": ignoring it would change the members (tide reads image, flavor, user_data and user_data_format, and " \
        "ignores key_name, networks, metadata, name, tags, config_drive, diskConfig, software_config_transport and " \
        "the *_update_policy properties)"

/* The group's OS::Nova::Server: image, flavor, user_data into body. */
static int read_server(struct ctx *c, struct resource *g, json_t *body) {
        static const char *const keys[] = { "type", "properties", "metadata", NULL };
        static const char *const props_known[] = {
                "image", "flavor", "user_data", "user_data_format",
                /* ignored: they do not change what the members run */
                "key_name", "networks", "metadata", "name", "tags", "config_drive", "diskConfig",
                "software_config_transport", "flavor_update_policy", "image_update_policy", "user_data_update_policy",
                NULL,
        };
        yaml_node_t *key = NULL, *res = map_get(c, g->props, "resource", &key);
        int r;
        if (!res || is_null(res))
                return fail(c, g->line, "'resource' is required: {type: OS::Nova::Server, properties: {...}}");
        if (!is_map(res))
                return fail(c, line_of(res), "'resource' must be {type: OS::Nova::Server, properties: {...}}");
        if ((r = check_keys(c, res, keys, "group resource key", NULL)) < 0)
                return r;
        yaml_node_t *type = map_get(c, res, "type", NULL);
        if (!is_scalar(type))
                return fail(c, line_of(type ? type : key), "the group's resource needs type: OS::Nova::Server");
        if (nested_type(text(type)))
                return fail(c, line_of(type), "the group's resource is %s: nested templates are not supported",
                            text(type));
        if (!streq(text(type), "OS::Nova::Server"))
                return fail(c, line_of(type), "the group's resource must be an OS::Nova::Server, not %s", text(type));
        yaml_node_t *props = map_get(c, res, "properties", NULL);
        if (!is_map(props))
                return fail(c, line_of(props ? props : type), "the server needs properties: image and flavor");
        if ((r = check_keys(c, props, props_known, "server property", SERVER_HINT)) < 0)
                return r;
        const char *refs[] = { "flavor", "image" };
        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                _cleanup_val_ struct val v = { 0 };
                if ((r = prop(c, props, refs[i], &v)) < 0)
                        return r;
                if (r == 0)
                        return fail(c, line_of(type), "server property '%s' is required", refs[i]);
                if (!tide_name_valid(v.s))
                        return fail(c, v.line, "'%s' must be a name or id of 1-%d characters of A-Z a-z 0-9 . _ - "
                                    "starting with a letter or digit: got '%.64s'", refs[i], TIDE_NAME_LEN_MAX, v.s);
                json_object_set_new(body, refs[i], json_string(v.s));
        }
        _cleanup_val_ struct val ud = { 0 }, fmt = { 0 };
        if ((r = prop(c, props, "user_data_format", &fmt)) < 0)
                return r;
        if (fmt.s && !streq(fmt.s, "RAW"))
                return fail(c, fmt.line, "user_data_format %.32s is not supported: tide passes user_data as it is "
                            "(RAW)", fmt.s);
        if ((r = prop(c, props, "user_data", &ud)) < 0)
                return r;
        if (ud.s && strlen(ud.s) > USER_DATA_MAX)
                return fail(c, ud.line, "user_data is %zu bytes; tide takes at most %d", strlen(ud.s), USER_DATA_MAX);
        json_object_set_new(body, "user_data", json_string(ud.s ? ud.s : ""));
        return 0;
}

static int read_group(struct ctx *c, struct resource *g) {
        static const char *const keys[] = {
                "min_size", "max_size", "desired_capacity", "cooldown", "resource", "rolling_updates", NULL,
        };
        int64_t min = 0, max = 0, desired, cooldown = -1;
        int r;
        c->cur = g->name;
        _cleanup_free_ char *name = xasprintf("%s-%s", c->stack, g->name);
        if (strlen(name) > HEAT_GROUP_NAME_MAX)
                return fail(c, g->line, "the group's name '%s' has %zu characters; at most %d (members are named "
                            "<group>-<n>): shorten the stack's or the resource's name", name, strlen(name),
                            HEAT_GROUP_NAME_MAX);
        if (!tide_name_valid(name))
                return fail(c, g->line, "the group's name '%s' may only have A-Z a-z 0-9 . _ -", name);
        if (!g->props)
                return fail(c, g->line, "properties min_size, max_size and resource are required");
        if ((r = check_keys(c, g->props, keys, "property", NULL)) < 0 ||
            (r = prop_int(c, g->props, "min_size", 0, MEMBERS_MAX, g->line, true, &min)) < 0 ||
            (r = prop_int(c, g->props, "max_size", 1, MEMBERS_MAX, g->line, true, &max)) < 0)
                return r;
        if (min > max)
                return fail(c, line_of(map_get(c, g->props, "min_size", NULL)), "min_size %lld is above max_size %lld",
                            (long long) min, (long long) max);
        desired = min;
        if ((r = prop_int(c, g->props, "desired_capacity", min, max, 0, false, &desired)) < 0 ||
            (r = prop_int(c, g->props, "cooldown", 0, SECONDS_MAX, 0, false, &cooldown)) < 0)
                return r;
        g->cooldown = cooldown;
        g->body = json_pack("{s:s}", "name", name);
        if ((r = read_server(c, g, g->body)) < 0)
                return r;
        json_object_set_new(g->body, "min", json_integer(min));
        json_object_set_new(g->body, "max", json_integer(max));
        json_object_set_new(g->body, "desired", json_integer(desired));
        json_object_set_new(g->body, "policies", json_array());
        c->cur = NULL;
        return 0;
}

/* The resource n references with {get_resource: NAME}; NULL when n is not that form. */
static struct resource *get_resource_ref(struct ctx *c, yaml_node_t *n, const char **ret_name) {
        if (!is_map(n) || map_size(n) != 1)
                return NULL;
        yaml_node_t *k = node_at(c, n->data.mapping.pairs.start[0].key), *v = node_at(c, n->data.mapping.pairs.start[0].value);
        if (!is_scalar(k) || !streq(text(k), "get_resource") || !is_scalar(v))
                return NULL;
        *ret_name = text(v);
        for (size_t i = 0; i < c->n_res; i++)
                if (streq(c->res[i].name, text(v)))
                        return &c->res[i];
        return NULL;
}

static int read_policy(struct ctx *c, struct resource *p) {
        static const char *const keys[] = {
                "auto_scaling_group_id", "adjustment_type", "scaling_adjustment", "cooldown", "min_adjustment_step", NULL,
        };
        int r;
        c->cur = p->name;
        if (!tide_name_valid(p->name))
                return fail(c, p->line, "a policy's name must be 1-%d characters of A-Z a-z 0-9 . _ - starting with a "
                            "letter or digit", TIDE_NAME_LEN_MAX);
        if (!p->props)
                return fail(c, p->line, "properties auto_scaling_group_id, adjustment_type and scaling_adjustment are "
                            "required");
        if ((r = check_keys(c, p->props, keys, "property", NULL)) < 0)
                return r;
        yaml_node_t *gid = map_get(c, p->props, "auto_scaling_group_id", NULL);
        const char *gname = NULL;
        struct resource *g = get_resource_ref(c, gid, &gname);
        if (!gid)
                return fail(c, p->line, "'auto_scaling_group_id' is required: {get_resource: GROUP}");
        if (!gname)
                return fail(c, line_of(gid), "auto_scaling_group_id must be {get_resource: GROUP}, a group of this "
                            "template");
        if (!g || g->kind != K_GROUP)
                return fail(c, line_of(gid), "auto_scaling_group_id names '%s', which is not an "
                            "OS::Heat::AutoScalingGroup of this template", gname);
        p->group = (size_t) (g - c->res);

        _cleanup_val_ struct val type = { 0 };
        if ((r = prop(c, p->props, "adjustment_type", &type)) < 0)
                return r;
        if (r == 0)
                return fail(c, p->line, "'adjustment_type' is required");
        bool change = streq(type.s, "change_in_capacity"), exact = streq(type.s, "exact_capacity");
        bool percent = streq(type.s, "percent_change_in_capacity");
        if (!change && !exact && !percent)
                return fail(c, type.line, "adjustment_type must be change_in_capacity, exact_capacity or "
                            "percent_change_in_capacity: got '%.40s'", type.s);
        int64_t n = 0, step = -1, cooldown = g->cooldown >= 0 ? g->cooldown : COOLDOWN_DEFAULT_S;
        int64_t lim = exact ? MEMBERS_MAX : percent ? 10000 : MEMBERS_MAX;
        if ((r = prop_int(c, p->props, "scaling_adjustment", exact ? 0 : -lim, lim, p->line, true, &n)) < 0)
                return r;
        if (n == 0 && !exact)
                return fail(c, line_of(map_get(c, p->props, "scaling_adjustment", NULL)),
                            "scaling_adjustment 0 does nothing");
        if ((r = prop_int(c, p->props, "min_adjustment_step", 0, MEMBERS_MAX, 0, false, &step)) < 0)
                return r;
        if (r > 0 && !percent)
                return fail(c, line_of(map_get(c, p->props, "min_adjustment_step", NULL)),
                            "min_adjustment_step only goes with percent_change_in_capacity");
        if (step > 1)
                return fail(c, line_of(map_get(c, p->props, "min_adjustment_step", NULL)),
                            "min_adjustment_step %lld is not supported: tide moves a percent policy by at least one "
                            "member, not more", (long long) step);
        if ((r = prop_int(c, p->props, "cooldown", 0, SECONDS_MAX, 0, false, &cooldown)) < 0)
                return r;
        p->cooldown_s = cooldown;
        p->adjust = exact ? xasprintf("=%lld", (long long) n)
                          : xasprintf("%+lld%s", (long long) n, percent ? "%" : "");
        c->cur = NULL;
        return 0;
}

/* The policy an alarm_actions entry names: {get_attr: [POLICY, alarm_url|signal_url]} or
 * {get_resource: POLICY}. */
static int action_policy(struct ctx *c, yaml_node_t *n, struct resource **ret) {
        static const char *const form = "an alarm_actions entry must be {get_attr: [POLICY, alarm_url]} naming an "
                                        "OS::Heat::ScalingPolicy of this template";
        const char *name = NULL;
        struct resource *p = get_resource_ref(c, n, &name);
        if (!name && is_map(n) && map_size(n) == 1) {
                yaml_node_t *k = node_at(c, n->data.mapping.pairs.start[0].key);
                yaml_node_t *args = node_at(c, n->data.mapping.pairs.start[0].value);
                if (is_scalar(k) && streq(text(k), "get_attr")) {
                        if (!is_seq(args) || seq_size(args) != 2 || !is_scalar(seq_item(c, args, 0)) ||
                            !is_scalar(seq_item(c, args, 1)))
                                return fail(c, line_of(n), "%s", form);
                        const char *attr = text(seq_item(c, args, 1));
                        if (!streq(attr, "alarm_url") && !streq(attr, "signal_url"))
                                return fail(c, line_of(n), "alarm_actions: get_attr of a policy's '%.32s' is not supported "
                                            "(alarm_url, signal_url)", attr);
                        name = text(seq_item(c, args, 0));
                        for (size_t i = 0; i < c->n_res; i++)
                                if (streq(c->res[i].name, name))
                                        p = &c->res[i];
                }
        }
        if (!name)
                return fail(c, line_of(n), "%s", form);
        if (!p || p->kind != K_POLICY)
                return fail(c, line_of(n), "alarm_actions names '%s', which is not an OS::Heat::ScalingPolicy of this "
                            "template", name);
        *ret = p;
        return 0;
}

/* ok_actions and the like: absent, null or an empty list. */
static int absent_or_empty(struct ctx *c, yaml_node_t *m, const char *key, const char *why) {
        yaml_node_t *n = map_get(c, m, key, NULL);
        if (!n || is_null(n) || (is_seq(n) && seq_size(n) == 0))
                return 0;
        return fail(c, line_of(n), "%s is not supported: %s", key, why);
}

static int read_alarm(struct ctx *c, struct resource *a) {
        static const char *const keys[] = {
                "meter_name", "statistic", "period", "evaluation_periods", "threshold", "comparison_operator",
                "alarm_actions", "ok_actions", "insufficient_data_actions", "time_constraints", "enabled",
                /* ignored */
                "repeat_actions", "matching_metadata", "query", "description", "severity", NULL,
        };
        int r;
        c->cur = a->name;
        if (!a->props)
                return fail(c, a->line, "properties meter_name, threshold, comparison_operator and alarm_actions are "
                            "required");
        if ((r = check_keys(c, a->props, keys, "property", NULL)) < 0 ||
            (r = absent_or_empty(c, a->props, "ok_actions", "a tide policy acts only when its condition holds")) < 0 ||
            (r = absent_or_empty(c, a->props, "insufficient_data_actions",
                                 "a tide policy acts only when its condition holds")) < 0 ||
            (r = absent_or_empty(c, a->props, "time_constraints", "tide's policies hold at all times")) < 0)
                return r;

        yaml_node_t *actions = map_get(c, a->props, "alarm_actions", NULL);
        struct resource *p = NULL;
        if (!actions || is_null(actions) || (is_seq(actions) && seq_size(actions) == 0))
                return fail(c, actions ? line_of(actions) : a->line, "the alarm has no alarm_actions: it must name the "
                            "OS::Heat::ScalingPolicy it triggers, e.g. [{get_attr: [POLICY, alarm_url]}]");
        if (!is_seq(actions))
                return fail(c, line_of(actions), "alarm_actions must be a list");
        if (seq_size(actions) > 1)
                return fail(c, line_of(actions), "alarm_actions has %zu entries; tide's policy carries its condition, "
                            "so an alarm triggers exactly one OS::Heat::ScalingPolicy", seq_size(actions));
        if ((r = action_policy(c, seq_item(c, actions, 0), &p)) < 0)
                return r;
        if (p->alarm)
                return fail(c, line_of(actions), "policy '%s' is already triggered by alarm '%s'; a tide policy has one "
                            "condition: give each its own ScalingPolicy", p->name, p->alarm->name);

        _cleanup_val_ struct val meter = { 0 }, stat = { 0 }, th = { 0 }, op = { 0 }, enabled = { 0 };
        if ((r = prop(c, a->props, "enabled", &enabled)) < 0)
                return r;
        if (r > 0 && bool_text(enabled.s) != 1)
                return fail(c, enabled.line, "enabled: %.16s is not supported: a tide policy is always on", enabled.s);
        if ((r = prop(c, a->props, "meter_name", &meter)) < 0)
                return r;
        if (r == 0)
                return fail(c, a->line, "'meter_name' is required");
        const char *metric = NULL;
        if (streq(meter.s, "cpu_util"))
                metric = "cpu";
        else if (streq(meter.s, "memory_util") || streq(meter.s, "memory.util"))
                metric = "memory";
        else if (streq(meter.s, "memory") || streq(meter.s, "memory.usage"))
                /* In MB: the memory the guest uses, in MiB (with the balloon, what a member is
                 * given follows what it uses). */
                metric = "memory_mib";
        else
                return fail(c, meter.line, "meter %.64s is not supported (cpu_util, memory_util, memory, memory.usage)", meter.s);
        if ((r = prop(c, a->props, "statistic", &stat)) < 0)
                return r;
        if (stat.s && !streq(stat.s, "avg") && !streq(stat.s, "max") && !streq(stat.s, "min"))
                return fail(c, stat.line, "statistic %.32s is not supported (avg, max, min)", stat.s);
        int64_t period = PERIOD_DEFAULT_S, periods = EVALUATION_PERIODS_DEFAULT;
        if ((r = prop_int(c, a->props, "period", 1, SECONDS_MAX, 0, false, &period)) < 0 ||
            (r = prop_int(c, a->props, "evaluation_periods", 1, SECONDS_MAX, 0, false, &periods)) < 0)
                return r;
        if (period * periods > SECONDS_MAX)
                return fail(c, line_of(map_get(c, a->props, "period", NULL)), "period x evaluation_periods is %lld s; "
                            "at most %d", (long long) (period * periods), SECONDS_MAX);
        if ((r = prop(c, a->props, "threshold", &th)) < 0)
                return r;
        double threshold;
        int64_t ithreshold;
        if (r == 0)
                return fail(c, a->line, "'threshold' is required");
        if (!number_text(th.s, &threshold))
                return fail(c, th.line, "threshold must be a number: got '%.32s'", th.s);
        if ((r = prop(c, a->props, "comparison_operator", &op)) < 0)
                return r;
        if (r == 0)
                return fail(c, a->line, "'comparison_operator' is required: gt, ge, lt or le (Aodh's default eq is not "
                            "supported)");
        bool above = streq(op.s, "gt") || streq(op.s, "ge"), below = streq(op.s, "lt") || streq(op.s, "le");
        if (!above && !below)
                return fail(c, op.line, "comparison_operator %.16s is not supported (gt, ge, lt, le)", op.s);

        json_t *thj = int_text(th.s) && parse_int64(th.s, -(INT64_C(1) << 53), INT64_C(1) << 53, &ithreshold) == 0
                              ? json_integer(ithreshold)
                              : json_real(threshold);
        p->alarm = a;
        p->cond = json_pack("{s:s, s:s, s:o, s:I}", "metric", metric, "stat", stat.s ? stat.s : "avg",
                            above ? "above" : "below", thj, "for_s", (json_int_t) (period * periods));
        c->cur = NULL;
        return 0;
}

static int translate(struct ctx *c, json_t **ret) {
        static const char *const sections[] = {
                "heat_template_version", "description", "parameter_groups", "parameters", "resources", "outputs", NULL,
        };
        yaml_node_t *root = yaml_document_get_root_node(c->doc);
        int r;
        if (!root || is_null(root))
                return fail(c, 0, "the template is empty");
        if (!is_map(root))
                return fail(c, line_of(root), "a template is a mapping: heat_template_version, parameters, resources, ...");
        if (map_get(c, root, "AWSTemplateFormatVersion", NULL) || map_get(c, root, "HeatTemplateFormatVersion", NULL))
                return fail(c, line_of(root), "CloudFormation templates are not supported: write HOT "
                            "(heat_template_version)");
        if ((r = check_keys(c, root, sections, "section", NULL)) < 0 || (r = read_version(c, root)) < 0 ||
            (r = read_params(c, root)) < 0 || (r = read_resources(c, root)) < 0)
                return r;
        for (enum kind k = K_GROUP; k <= K_ALARM; k++)
                for (size_t i = 0; i < c->n_res; i++) {
                        struct resource *x = &c->res[i];
                        if (x->kind != k)
                                continue;
                        r = k == K_GROUP ? read_group(c, x) : k == K_POLICY ? read_policy(c, x) : read_alarm(c, x);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < c->n_res; i++)
                if (c->res[i].kind == K_POLICY && !c->res[i].alarm) {
                        c->cur = c->res[i].name;
                        return fail(c, c->res[i].line, "policy '%s' has no alarm: a tide policy carries its condition; "
                                    "add an OS::Aodh::Alarm with alarm_actions [{get_attr: [%s, alarm_url]}]",
                                    c->res[i].name, c->res[i].name);
                }

        json_t *groups = json_array();
        for (size_t i = 0; i < c->n_res; i++) {
                struct resource *g = &c->res[i];
                if (g->kind != K_GROUP)
                        continue;
                json_t *list = json_object_get(g->body, "policies");
                for (size_t j = 0; j < c->n_res; j++) {
                        struct resource *p = &c->res[j];
                        if (p->kind != K_POLICY || p->group != i)
                                continue;
                        if (json_array_size(list) == POLICIES_MAX) {
                                c->cur = g->name;
                                json_decref(groups);
                                return fail(c, p->line, "a group has at most %d policies", POLICIES_MAX);
                        }
                        json_t *pj = json_pack("{s:s}", "name", p->name);
                        json_object_update(pj, p->cond);
                        json_object_set_new(pj, "adjust", json_string(p->adjust));
                        json_object_set_new(pj, "cooldown_s", json_integer(p->cooldown_s));
                        json_object_set_new(pj, "victim", json_string(VICTIM));
                        json_array_append_new(list, pj);
                }
                json_array_append(groups, g->body);
        }
        *ret = json_pack("{s:o}", "groups", groups);
        return 0;
}

/* libyaml's error with its line; a reader error (bad UTF-8) has only an offset. */
static int syntax_error(struct ctx *c, const yaml_parser_t *p, const char *text_, size_t len) {
        if (p->error == YAML_MEMORY_ERROR)
                abort();
        size_t line = p->problem_mark.line + 1;
        if (p->error == YAML_READER_ERROR) {
                line = 1;
                for (size_t i = 0; i < p->problem_offset && i < len; i++)
                        line += text_[i] == '\n';
        }
        if (p->context)
                return fail(c, line, "YAML syntax: %s, %s from line %zu", p->problem ? p->problem : "error",
                            p->context, p->context_mark.line + 1);
        return fail(c, line, "YAML syntax: %s", p->problem ? p->problem : "error");
}

/* Scalars with a NUL inside (a "\0" escape) would be cut short by everything after the parser. */
static int check_nul(struct ctx *c) {
        for (yaml_node_t *n = c->doc->nodes.start; n < c->doc->nodes.top; n++)
                if (n->type == YAML_SCALAR_NODE && strlen(text(n)) != n->data.scalar.length)
                        return fail(c, line_of(n), "a NUL character in a string");
        return 0;
}

static void ctx_clear(struct ctx *c) {
        for (size_t i = 0; i < c->n_res; i++) {
                json_decref(c->res[i].body);
                json_decref(c->res[i].cond);
                free(c->res[i].adjust);
        }
        free(c->res);
        free(c->params);
}

int heat_translate(const char *yaml_text, size_t len, json_t *parameters, const char *stack_name, json_t **ret,
                   char **ret_err) {
        struct ctx c = { .stack = stack_name, .given = parameters };
        yaml_parser_t parser;
        yaml_document_t doc, extra;
        json_t *out = NULL;
        int r;

        if (!stack_name || !tide_name_valid(stack_name))
                r = fail(&c, 0, "the stack's name must be 1-%d characters of A-Z a-z 0-9 . _ - starting with a letter "
                         "or digit", TIDE_NAME_LEN_MAX);
        else if (parameters && !json_is_object(parameters))
                r = fail(&c, 0, "the parameters must be an object of strings");
        else if (!yaml_text || len > HEAT_TEMPLATE_MAX)
                r = fail(&c, 0, "the template must be at most %d bytes", HEAT_TEMPLATE_MAX);
        else {
                if (!yaml_parser_initialize(&parser))
                        abort();
                yaml_parser_set_input_string(&parser, (const unsigned char *) yaml_text, len);
                if (!yaml_parser_load(&parser, &doc))
                        r = syntax_error(&c, &parser, yaml_text, len);
                else {
                        c.doc = &doc;
                        if (!yaml_parser_load(&parser, &extra))
                                r = syntax_error(&c, &parser, yaml_text, len);
                        else {
                                yaml_node_t *second = yaml_document_get_root_node(&extra);
                                r = second ? fail(&c, line_of(second), "a template is one YAML document; a second one "
                                                  "starts here")
                                           : 0;
                                yaml_document_delete(&extra);
                        }
                        if (r >= 0)
                                r = check_nul(&c);
                        if (r >= 0)
                                r = translate(&c, &out);
                        yaml_document_delete(&doc);
                }
                yaml_parser_delete(&parser);
        }
        ctx_clear(&c);
        if (r < 0) {
                *ret_err = c.err;
                return r;
        }
        *ret = out;
        return 0;
}
