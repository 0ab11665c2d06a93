/* test_fs_private.c — the modes of the image store and the instances' directories: never
 * anything for others, with or without QEMU's group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs_private.h"
#include "common/util.h"

static void test_modes(void **state) {
        assert_int_equal(fs_private_mode(true, 0), 0700);
        assert_int_equal(fs_private_mode(false, 0), 0600);
        assert_int_equal(fs_private_mode(true, 64055), 0750);
        assert_int_equal(fs_private_mode(false, 64055), 0640);
}

/* Directories made by fs_private_mkdir, and a file made world-readable then fixed, end with no
 * bit for others, and with the group's bits only when the group is QEMU's. */
static void test_made_and_fixed(void **state) {
        char tmpl[] = "/tmp/tide-fs-private.XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_free_ char *dir = xasprintf("%s/images/abc", tmpl);
        _cleanup_free_ char *file = xasprintf("%s/disk.raw", dir);
        assert_int_equal(fs_private_mkdir(dir), 0);
        int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, 0644), 0);
        close(fd);
        assert_int_equal(fs_private_fix(file), 0);
        struct stat st;
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, fs_private_mode(true, st.st_gid == fs_private_gid() ? st.st_gid : 0));
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 0007, 0);
        assert_int_equal(st.st_mode & 07777, fs_private_mode(false, st.st_gid == fs_private_gid() ? st.st_gid : 0));
        assert_int_equal(rm_rf(tmpl), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_modes),
                cmocka_unit_test(test_made_and_fixed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
