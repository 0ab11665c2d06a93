/* fuzz_image_info.c — tided's reading of `qemu-img info --output=json` (api_images.c's
 * inspect_disk()), on arbitrary qemu-img output.
 *
 * The disk an image is made from is the user's: its header is parsed by qemu-img, not by tide,
 * and tide reads qemu-img's JSON (the format, backing files, an external data file) to decide
 * whether to take the disk. That reading is static in api_images.c and runs qemu-img itself
 * (proc_run()), and src/ is left alone here, so this file includes api_images.c with proc_run
 * renamed to a stand-in that "runs" qemu-img by handing back the fuzzer's bytes. Nothing else of
 * api_images.c runs (no store, no copying).
 *
 * Input: qemu-img's stdout, cut at the first NUL as proc_run() hands out a C string. When it
 * starts with '!', qemu-img "fails" instead: exit status 1 with the rest as its stderr. Each
 * input is inspected twice, as image_create() does: format probed, then given ("qcow2").
 *
 * Checks: a rejection is an error reply with a message and no info; an acceptance gives an
 * object whose format is qcow2 or raw, without a backing file or data file. */
#define proc_run fuzz_proc_run
#include "api/api_images.c"
#undef proc_run

#include <stdint.h>
#include <stdio.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUTPUT_MAX (1024 * 1024) /* proc_run's cap on stdout */

static const uint8_t *fuzz_data;
static size_t fuzz_size;

int fuzz_proc_run(char *const argv[], int timeout_ms, char **ret_out, char **ret_err) {
        if (!argv[0] || !streq(argv[0], "qemu-img") || !argv[1] || !streq(argv[1], "info"))
                abort(); /* inspect_disk runs nothing else */
        bool failed = fuzz_size > 0 && fuzz_data[0] == '!';
        char *text = xstrndup((const char *) fuzz_data + failed, fuzz_size - failed);
        if (failed) {
                if (ret_out)
                        *ret_out = xstrdup("");
                if (ret_err)
                        *ret_err = text;
                else
                        free(text);
                return 1;
        }
        if (ret_out)
                *ret_out = text;
        else
                free(text);
        if (ret_err)
                *ret_err = xstrdup("");
        return 0;
}

static void fail(const char *what) {
        fprintf(stderr, "fuzz_image_info: %s\n", what);
        abort();
}

static void inspect(const char *format) {
        struct api_reply rep = { 0 };
        json_t *info = NULL;
        int r = inspect_disk("/fuzz/disk.img", format, &rep, &info);
        if (r < 0) {
                if (info)
                        fail("a rejection that set the info");
                /* The message holds qemu-img's stderr, which need not be UTF-8: still a JSON reply. */
                if (!json_is_string(json_object_get(json_object_get(rep.json, "error"), "message")))
                        fail("a rejection without an error reply");
        } else {
                const char *fmt = tide_json_str(info, "format", "");
                if (!streq(fmt, "qcow2") && !streq(fmt, "raw"))
                        fail("accepted a format other than qcow2 or raw");
                if (json_object_get(info, "backing-filename") || json_object_get(info, "full-backing-filename"))
                        fail("accepted a disk with a backing file");
                if (rep.json)
                        fail("an acceptance with an error reply");
                json_decref(info);
        }
        json_decref(rep.json);
        free(rep.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > OUTPUT_MAX)
                return 0;
        fuzz_data = data;
        fuzz_size = size;
        inspect(NULL);
        inspect("qcow2");
        return 0;
}
