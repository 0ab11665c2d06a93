/* model_priv.h — validation helpers the model's files share. Not for use outside src/model. */
#pragma once

#include <jansson.h>
#include <stdint.h>

/* ret_err gets the formatted message; returns TIDE_E_INVALID. */
int model_fail(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Checks that body is an object whose members are all in allowed (NULL-terminated). */
int model_check_members(json_t *body, const char *const *allowed, char **ret_err);
/* body's "name", valid (model_name_valid); what names the object in the message. */
/* What an instance and a scaling group's members are made from: "flavor" and "image" (each
 * required, a name or an id) and "user_data" (absent, null or a string of at most
 * MODEL_USER_DATA_MAX bytes). 0, or -EINVAL with *ret_err saying what is wrong. */
int model_check_launch(json_t *body, char **ret_err);
int model_get_name(json_t *body, const char *what, char **ret_err, const char **ret);
/* An integer member in [min, max]; def < min means required. */
int model_get_int(json_t *body, const char *key, int64_t min, int64_t max, int64_t def, char **ret_err, int64_t *ret);
