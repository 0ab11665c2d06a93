/* heat_values.c — the YAML document of a Heat template and the values in it: nodes and their
 * lines, maps and lists, intrinsic functions (get_param, str_replace), properties, numbers and
 * names (heat_priv.h). */
#include "ctl/heat_priv.h"
#include "ctl/heat.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "common/errors.h"
#include "common/strbuf.h"

/* Functions a template may use that tide does not: named in the error where they are read. */
static const char *const other_functions[] = {
        "get_file",
        "list_join",
        "repeat",
        "digest",
        "resource_facade",
        "str_split",
        "map_merge",
        "map_replace",
        "yaql",
        "equals",
        "if",
        "not",
        "and",
        "or",
        "contains",
        "filter",
        "make_url",
        "list_concat",
        "list_concat_unique",
        NULL,
};

void ht_val_clear(struct val *v) {
        free(v->owned);
        *v = (struct val) { 0 };
}

/* Records the first error: "line N: resource 'R': message"; returns TIDE_E_INVALID. */
_printf_(3, 4) int ht_fail(struct ctx *c, size_t line, const char *fmt, ...) {
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

size_t ht_line_of(const yaml_node_t *n) {
        return n ? n->start_mark.line + 1 : 0;
}

yaml_node_t *ht_node_at(struct ctx *c, int i) {
        return yaml_document_get_node(c->doc, i);
}

bool ht_is_scalar(const yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE;
}

bool ht_is_map(const yaml_node_t *n) {
        return n && n->type == YAML_MAPPING_NODE;
}

bool ht_is_seq(const yaml_node_t *n) {
        return n && n->type == YAML_SEQUENCE_NODE;
}

const char *ht_text(const yaml_node_t *n) {
        return (const char *) n->data.scalar.value;
}

/* YAML's null: an empty or ~ / null plain scalar. */
bool ht_is_null(const yaml_node_t *n) {
        if (!ht_is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        const char *s = ht_text(n);
        return !*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

bool ht_in_list(const char *s, const char *const *list) {
        for (; *list; list++)
                if (streq(s, *list))
                        return true;
        return false;
}

size_t ht_map_size(const yaml_node_t *m) {
        return (size_t) (m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

size_t ht_seq_size(const yaml_node_t *s) {
        return (size_t) (s->data.sequence.items.top - s->data.sequence.items.start);
}

yaml_node_t *ht_seq_item(struct ctx *c, const yaml_node_t *s, size_t i) {
        return ht_node_at(c, s->data.sequence.items.start[i]);
}

/* The value of key in mapping m (NULL when absent or m is NULL); ret_key gets the key's node. */
yaml_node_t *ht_map_get(struct ctx *c, const yaml_node_t *m, const char *key, yaml_node_t **ret_key) {
        if (!ht_is_map(m))
                return NULL;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
                yaml_node_t *k = ht_node_at(c, p->key);
                if (ht_is_scalar(k) && streq(ht_text(k), key)) {
                        if (ret_key)
                                *ret_key = k;
                        return ht_node_at(c, p->value);
                }
        }
        return NULL;
}

/* Checks that m's keys are scalars from known, each once. what names a key in the error
 * ("property", "server property", ...); hint (may be NULL) follows "is not supported". */
int ht_check_keys(struct ctx *c, const yaml_node_t *m, const char *const *known, const char *what, const char *hint) {
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
                yaml_node_t *k = ht_node_at(c, p->key);
                if (!ht_is_scalar(k))
                        return ht_fail(c, ht_line_of(k), "a %s's name must be a string", what);
                if (streq(ht_text(k), "<<"))
                        return ht_fail(c, ht_line_of(k), "YAML merge keys (<<) are not supported");
                for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
                        if (streq(ht_text(ht_node_at(c, q->key)), ht_text(k)))
                                return ht_fail(c, ht_line_of(k), "%s '%s' is given twice", what, ht_text(k));
                if (!ht_in_list(ht_text(k), known))
                        return ht_fail(c, ht_line_of(k), "%s '%s' is not supported%s", what, ht_text(k),
                                       hint ? hint : "");
        }
        return 0;
}

/* ---- values ---- */

static int ht_resolve(struct ctx *c, yaml_node_t *n, const char *what, int depth, struct val *ret);

const struct param *ht_param_find(struct ctx *c, const char *name) {
        for (size_t i = 0; i < c->n_params; i++)
                if (streq(c->params[i].name, name))
                        return &c->params[i];
        return NULL;
}

static int ht_get_param(struct ctx *c, yaml_node_t *arg, size_t line, const char *what, struct val *ret) {
        if (ht_is_seq(arg) && ht_seq_size(arg) > 1)
                return ht_fail(c, line, "'%s': get_param with a path into a parameter is not supported", what);
        if (ht_is_seq(arg) && ht_seq_size(arg) == 1)
                arg = ht_seq_item(c, arg, 0);
        if (!ht_is_scalar(arg) || ht_is_null(arg))
                return ht_fail(c, line, "'%s': get_param takes a parameter's name", what);
        const char *name = ht_text(arg);
        if (streq(name, "OS::stack_name")) {
                *ret = (struct val) { .s = c->stack, .line = line };
                return 0;
        }
        if (startswith(name, "OS::"))
                return ht_fail(c, line, "'%s': the pseudo parameter %s is not available in tide", what, name);
        const struct param *p = ht_param_find(c, name);
        if (!p)
                return ht_fail(c, line, "'%s': get_param names '%s', which is not a parameter of the template", what,
                               name);
        if (!p->value)
                return ht_fail(c, line, "'%s': parameter '%s' is a %s; a single value is needed here", what, name,
                               p->type);
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
        if (!ht_is_map(arg))
                return ht_fail(c, line, "'%s': %s takes {template: ..., params: {...}}", what, fn);
        if ((r = ht_check_keys(c, arg, keys, "function key", NULL)) < 0)
                return r;
        yaml_node_t *tmpl = ht_map_get(c, arg, "template", NULL), *params = ht_map_get(c, arg, "params", NULL);
        if (!tmpl || !params || !ht_is_map(params))
                return ht_fail(c, line, "'%s': %s takes {template: ..., params: {...}}", what, fn);
        _cleanup_val_ struct val t = { 0 };
        if ((r = ht_resolve(c, tmpl, what, depth + 1, &t)) < 0)
                return r;
        if (!t.s)
                return ht_fail(c, ht_line_of(tmpl), "'%s': %s's template must be a string", what, fn);
        size_t n = ht_map_size(params);
        if (n > REPLACE_PARAMS_MAX)
                return ht_fail(c, line, "'%s': %s has more than %d params", what, fn, REPLACE_PARAMS_MAX);
        _cleanup_free_ struct repl *reps = xcalloc(n ? n : 1, sizeof *reps);
        _cleanup_free_ bool *used = xcalloc(n ? n : 1, sizeof *used);
        size_t i = 0;
        for (yaml_node_pair_t *p = params->data.mapping.pairs.start; p < params->data.mapping.pairs.top; p++, i++) {
                yaml_node_t *k = ht_node_at(c, p->key);
                if (!ht_is_scalar(k) || ht_is_null(k)) {
                        r = ht_fail(c, ht_line_of(k), "'%s': %s's params are named by strings", what, fn);
                        break;
                }
                reps[i].key = ht_text(k);
                for (size_t j = 0; j < i; j++)
                        if (streq(reps[j].key, reps[i].key))
                                r = ht_fail(c, ht_line_of(k), "'%s': %s's param '%s' is given twice", what, fn,
                                            reps[i].key);
                if (r < 0 || (r = ht_resolve(c, ht_node_at(c, p->value), what, depth + 1, &reps[i].value)) < 0)
                        break;
                if (vstrict && (!reps[i].value.s || !*reps[i].value.s)) {
                        r = ht_fail(c, ht_line_of(k), "'%s': %s's param '%s' is empty", what, fn, reps[i].key);
                        break;
                }
        }
        struct strbuf b = STRBUF_INIT(HEAT_TEMPLATE_MAX);
        if (r >= 0) {
                qsort(reps, n, sizeof *reps, repl_cmp);
                if (replace_into(&b, t.s, strlen(t.s), reps, 0, n, used) < 0)
                        r = ht_fail(c, line, "'%s': %s makes a string longer than %d bytes", what, fn,
                                    HEAT_TEMPLATE_MAX);
        }
        for (i = 0; r >= 0 && strict && i < n; i++)
                if (!used[i])
                        r = ht_fail(c, line, "'%s': %s's param '%s' is not in the template", what, fn, reps[i].key);
        for (i = 0; i < n; i++)
                ht_val_clear(&reps[i].value);
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
static int ht_resolve(struct ctx *c, yaml_node_t *n, const char *what, int depth, struct val *ret) {
        size_t line = ht_line_of(n);
        if (depth > DEPTH_MAX)
                return ht_fail(c, line, "'%s': functions nested more than %d deep", what, DEPTH_MAX);
        if (++c->resolved > RESOLVE_MAX)
                return ht_fail(c, line,
                               "'%s': the template's functions expand to more than %d values (YAML aliases "
                               "naming the same functions again and again?)",
                               what, RESOLVE_MAX);
        if (ht_is_scalar(n)) {
                *ret = (struct val) { .s = ht_is_null(n) ? NULL : ht_text(n), .line = line };
                return 0;
        }
        if (ht_is_seq(n))
                return ht_fail(c, line, "'%s' must be a single value, not a list", what);
        yaml_node_t *k = ht_map_size(n) == 1 ? ht_node_at(c, n->data.mapping.pairs.start[0].key) : NULL;
        yaml_node_t *arg = k ? ht_node_at(c, n->data.mapping.pairs.start[0].value) : NULL;
        const char *fn = ht_is_scalar(k) ? ht_text(k) : "";
        if (streq(fn, "get_param"))
                return ht_get_param(c, arg, line, what, ret);
        if (streq(fn, "str_replace") || streq(fn, "str_replace_strict") || streq(fn, "str_replace_vstrict"))
                return str_replace(c, fn, arg, line, what, depth, ret);
        if (streq(fn, "get_resource") || streq(fn, "get_attr"))
                return ht_fail(c, line,
                               "'%s': %s is only supported in a policy's auto_scaling_group_id and an alarm's "
                               "alarm_actions",
                               what, fn);
        if (ht_in_list(fn, other_functions) || startswith(fn, "Fn::"))
                return ht_fail(c, line, "'%s': function %s is not supported (get_param and str_replace are)", what, fn);
        return ht_fail(c, line, "'%s' must be a single value, not a mapping", what);
}

/* Property key of m, resolved: 1 when given (not null), 0 when absent or null. */
int ht_prop(struct ctx *c, yaml_node_t *m, const char *key, struct val *ret) {
        yaml_node_t *n = ht_map_get(c, m, key, NULL);
        if (!n)
                return 0;
        int r = ht_resolve(c, n, key, 0, ret);
        if (r < 0)
                return r;
        if (!ret->s) {
                ht_val_clear(ret);
                return 0;
        }
        return 1;
}

/* An optionally signed decimal integer, nothing else (strtoll alone takes spaces). */
bool ht_int_text(const char *s) {
        const char *d = s + (*s == '+' || *s == '-');
        return *d && strspn(d, "0123456789") == strlen(d) && strlen(d) <= 18;
}

int ht_prop_int(struct ctx *c, yaml_node_t *m, const char *key, int64_t min, int64_t max, size_t at, bool required,
                int64_t *ret) {
        _cleanup_val_ struct val v = { 0 };
        int r = ht_prop(c, m, key, &v);
        if (r < 0)
                return r;
        if (r == 0)
                return required ? ht_fail(c, at, "'%s' is required", key) : 0;
        int64_t x;
        if (!ht_int_text(v.s) || parse_int64(v.s, min, max, &x) < 0)
                return ht_fail(c, v.line, "'%s' must be an integer from %lld to %lld: got '%.32s'", key,
                               (long long) min, (long long) max, v.s);
        *ret = x;
        return 1;
}

bool ht_number_text(const char *s, double *ret) {
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
int ht_bool_text(const char *s) {
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
bool ht_tide_name_valid(const char *s) {
        size_t n = strlen(s);
        /* model_name_valid()'s rule: "a..b" could be taken for a path step by a tool. */
        return n >= 1 && n <= TIDE_NAME_LEN_MAX && isalnum((unsigned char) s[0]) &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n && !strstr(s, "..");
}
