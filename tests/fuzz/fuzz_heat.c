/* fuzz_heat.c — heat_translate() (src/ctl/heat.h) on arbitrary bytes: the YAML of a Heat
 * template as `POST /v1/stacks` hands it over (any client may send one).
 *
 * Input: the template's bytes, not NUL-terminated. When the first line is
 * `#params {JSON}` (a YAML comment, so the file is still a template), that JSON is passed as the
 * --parameter values and the template is the rest; otherwise there are none. The stack's name
 * is always "fuzz".
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks heat.h's contract: a failure is
 * TIDE_E_INVALID with a message and *ret untouched; a success is {"groups": [...]} with at least
 * one group (and "networks", the lines that name networks, when servers have some), and every group body is a valid POST /v1/scaling-groups request for the model (as
 * test_heat checks for the golden cases). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "ctl/heat.h"
#include "model/model.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STACK "fuzz"
#define PARAMS_PREFIX "#params "

static void fail(const char *what, const char *detail) {
        fprintf(stderr, "fuzz_heat: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        json_t *params = NULL;
        if (size >= strlen(PARAMS_PREFIX) && memcmp(data, PARAMS_PREFIX, strlen(PARAMS_PREFIX)) == 0) {
                const char *nl = memchr(text, '\n', size);
                size_t line = nl ? (size_t) (nl - text) : size;
                params = json_loadb(text + strlen(PARAMS_PREFIX), line - strlen(PARAMS_PREFIX), JSON_REJECT_DUPLICATES,
                                    NULL);
                size_t skip = nl ? line + 1 : size;
                text += skip;
                size -= skip;
        }

        json_t *out = NULL;
        char *err = NULL;
        int r = heat_translate(text, size, params, STACK, &out, &err);
        if (r < 0) {
                if (r != TIDE_E_INVALID)
                        fail("a failure other than TIDE_E_INVALID", tide_strerror(r));
                if (!err)
                        fail("a failure without a message", NULL);
                if (out)
                        fail("a failure that set *ret", NULL);
                if (!fuzz_message_ok(err))
                        fail("a message that is not valid UTF-8", err);
                free(err);
                json_decref(params);
                return 0;
        }
        if (err)
                fail("a success with a message", err);
        json_t *groups = json_object_get(out, "groups"), *nets = json_object_get(out, "networks");
        if (!json_is_object(out) || json_object_size(out) != (nets ? 2 : 1) || !json_is_array(groups) ||
            json_array_size(groups) == 0)
                fail("a success that is not {\"groups\": [group, ...], \"networks\"?: [...]}", NULL);
        if (nets && (!json_is_array(nets) || json_array_size(nets) == 0))
                fail("\"networks\" that is not a list of the lines naming networks", NULL);
        size_t i;
        json_t *body;
        json_array_foreach(nets, i, body) {
                json_t *line = json_object_get(body, "line");
                if (!json_is_string(json_object_get(body, "group")) ||
                    !json_is_string(json_object_get(body, "network")) || !json_is_integer(line) ||
                    json_integer_value(line) < 1)
                        fail("a network's line that is not {\"group\", \"network\", \"line\"}", NULL);
        }
        json_array_foreach(groups, i, body) {
                json_t *g = NULL;
                char *gerr = NULL;
                if (model_scaling_group_from_request(body, &g, &gerr) < 0) {
                        char *s = json_dumps(body, JSON_COMPACT);
                        fprintf(stderr, "fuzz_heat: group body %s\n", s);
                        free(s);
                        fail("heat made a group body the model refuses", gerr);
                }
                json_decref(g);
        }
        char *s = json_dumps(out, JSON_COMPACT);
        if (!s)
                fail("the translation does not serialise", NULL);
        free(s);
        json_decref(out);
        json_decref(params);
        return 0;
}
