/* fuzz_image_info.c — tided's reading of `qemu-img info --output=json` (api_images.c's
 * api_image_info_check(), api_internal.h), on arbitrary qemu-img output.
 *
 * The disk an image is made from is the user's: its header is parsed by qemu-img, not by tide,
 * and tide reads qemu-img's JSON (the format, backing files, an external data file) to decide
 * whether to take the disk. api_image_info_check() is that reading, apart from running qemu-img
 * (inspect_disk() runs it and hands its answer over), so the fuzzer's bytes stand for the answer.
 *
 * Input: qemu-img's stdout, cut at the first NUL as proc_run() hands out a C string. When it
 * starts with '!', qemu-img "fails" instead: exit status 1 with the rest as its stderr.
 *
 * Checks: a rejection is an error reply with a message and no info; an acceptance gives an
 * object whose format is qcow2 or raw, without a backing file or data file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "common/tide_json.h"
#include "common/util.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUTPUT_MAX (1024 * 1024) /* proc_run's cap on stdout */

static void fail(const char *what) {
        fprintf(stderr, "fuzz_image_info: %s\n", what);
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > OUTPUT_MAX)
                return 0;
        bool failed = size > 0 && data[0] == '!';
        char *text = xstrndup((const char *) data + failed, size - failed);
        struct api_reply rep = { 0 };
        json_t *info = NULL;
        int r = failed ? api_image_info_check("/fuzz/disk.img", 1, "", text, &rep, &info)
                       : api_image_info_check("/fuzz/disk.img", 0, text, "", &rep, &info);
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
        free(text);
        return 0;
}
