/* test_sim_support.h — what the in-process tests on simulated hosts (test_agent_elastic.c,
 * test_autoscaler.c) share: failing with a report, and the flavor and image records the API's
 * handlers would store. Test code only. */
#pragma once

#include <jansson.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "store/store.h"

/* On a failed check: dump() prints what the test knows (may be NULL), cleanup() ends what it
 * started (may be NULL); then the test exits 1. */
void sim_test_hooks(void (*dump)(void), void (*cleanup)(void));
_Noreturn void sim_test_fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define FAIL(...) sim_test_fail_at(__FILE__, __LINE__, __VA_ARGS__)

#define CHECK(cond) \
        do { \
                if (!(cond)) \
                        FAIL("check failed: %s", #cond); \
        } while (0)

/* A call returning >= 0 or a negative error. */
#define CHECK_OK(expr) \
        do { \
                int _r = (expr); \
                if (_r < 0) \
                        FAIL("%s returned %d (%s; hypervisor: '%s')", #expr, _r, tide_strerror(_r), hv_last_error()); \
        } while (0)

/* The JSON of text (new reference); fails the test on bad JSON. */
json_t *sim_test_json(const char *text);
/* POST /v1/flavors (api_flavors.c): the flavor of body_text, stored. */
void sim_test_flavor(struct store *s, const char *body_text);
/* POST /v1/images (api_images.c) for a 16 MiB raw disk made in dir: copied into
 * dir/images/<id>/, recorded; qemu-img's inspection is left out (the simulator reads no disk). */
void sim_test_image(struct store *s, const char *dir, const char *name);
