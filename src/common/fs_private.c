/* fs_private.c — modes and group of the image store and the instances' directories. */
#include "common/fs_private.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static gid_t private_gid;
static pthread_once_t private_once = PTHREAD_ONCE_INIT;

static void gid_lookup(void) {
        struct group gr, *res = NULL;
        char buf[4096];
        if (getgrnam_r(FS_PRIVATE_GROUP, &gr, buf, sizeof buf, &res) == 0 && res)
                private_gid = res->gr_gid;
}

gid_t fs_private_gid(void) {
        pthread_once(&private_once, gid_lookup);
        return private_gid;
}

mode_t fs_private_mode(bool dir, gid_t gid) {
        if (dir)
                return gid ? 0750 : 0700;
        return gid ? 0640 : 0600;
}

/* Applies mode and group through an fd or a path: one of the two is given. */
static int apply(int fd, const char *path, bool dir) {
        gid_t gid = fs_private_gid();
        /* Without the right to give the group (not root), keep the file to its owner alone. */
        if (gid && (fd >= 0 ? fchown(fd, (uid_t) -1, gid) : chown(path, (uid_t) -1, gid)) < 0)
                gid = 0;
        mode_t mode = fs_private_mode(dir, gid);
        if ((fd >= 0 ? fchmod(fd, mode) : chmod(path, mode)) < 0)
                return -errno;
        return 0;
}

int fs_private_fix(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return -EINVAL;
        return apply(-1, path, S_ISDIR(st.st_mode));
}

int fs_private_fix_fd(int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        return apply(fd, NULL, S_ISDIR(st.st_mode));
}

int fs_private_mkdir(const char *path) {
        int r = mkdir_p(path, 0700);
        if (r < 0)
                return r;
        return fs_private_fix(path);
}
