/* golden.c — golden-file tests (golden.h). */
#include "common/golden.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/util.h"

#define GOLDEN_CASES_MAX 1024
#define GOLDEN_FILE_MAX (4 << 20)

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int golden_run(const char *dir, const char *ext, size_t min_cases, golden_fn fn, void *userdata) {
        const char *u = getenv("TIDE_GOLDEN_UPDATE");
        bool update = u && streq(u, "1");
        DIR *d = opendir(dir);
        if (!d) {
                printf("golden: cannot read %s\n", dir);
                return -1;
        }
        char **names = xcalloc(GOLDEN_CASES_MAX, sizeof *names);
        size_t n = 0, el = strlen(ext);
        struct dirent *de;
        while ((de = readdir(d)) && n < GOLDEN_CASES_MAX)
                if (strlen(de->d_name) > el && endswith(de->d_name, ext))
                        names[n++] = xstrndup(de->d_name, strlen(de->d_name) - el);
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        int failed = n < min_cases ? -1 : 0;
        if (failed < 0)
                printf("golden: %zu cases in %s, expected at least %zu\n", n, dir, min_cases);
        for (size_t i = 0; failed >= 0 && i < n; i++) {
                _cleanup_free_ char *path = xasprintf("%s/%s%s", dir, names[i], ext);
                _cleanup_free_ char *exp_path = xasprintf("%s/%s.expected", dir, names[i]);
                _cleanup_free_ char *got = fn(path, names[i], userdata), *want = NULL;
                size_t len;
                if (update) {
                        int r = write_file_atomic(exp_path, got, strlen(got), 0644);
                        if (r < 0) {
                                printf("%s: writing %s: %s\n", names[i], exp_path, tide_strerror(r));
                                failed++;
                        } else
                                printf("updated %s\n", exp_path);
                } else if (read_file(exp_path, GOLDEN_FILE_MAX, &want, &len) < 0) {
                        printf("%s: no %s (run with TIDE_GOLDEN_UPDATE=1)\n", names[i], exp_path);
                        failed++;
                } else if (!streq(want, got)) {
                        printf("%s: differs from %s\n--- expected\n%s--- got\n%s", names[i], exp_path, want, got);
                        failed++;
                }
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return failed;
}
