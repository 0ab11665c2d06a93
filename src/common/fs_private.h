/* fs_private.h — the modes of what tide keeps that only root and QEMU may read: the image store
 * and the instances' directories (disks, config drives, console logs).
 *
 * Directories are 0750 and files 0640, owned by root and by the group QEMU runs with under a
 * stock Debian libvirtd ("libvirt-qemu", which libvirtd's qemu.conf names as the user QEMU runs
 * as; the user is a member of its own group): QEMU must traverse the directories to open the
 * disks and kernels by path. When that group does not exist (QEMU runs as root, as under the
 * embedded driver tided uses without a libvirtd) they are 0700 and 0600. Nothing is ever
 * readable by others. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define FS_PRIVATE_GROUP "libvirt-qemu"

/* The gid of FS_PRIVATE_GROUP, or 0 when it does not exist (looked up once). */
gid_t fs_private_gid(void);
/* The mode fs_private gives a directory (dir) or a file with group gid: 0750/0640 with a group,
 * 0700/0600 with gid 0. Pure. */
mode_t fs_private_mode(bool dir, gid_t gid);
/* mkdir -p path (created directories 0700), then gives path itself the private mode and group
 * (fs_private_fix). 0 or -errno. */
int fs_private_mkdir(const char *path);
/* Gives the existing file or directory at path the private mode and group (chown to root's
 * user is not done: files keep their owner). 0 or -errno. */
int fs_private_fix(const char *path);
/* The same for an open file. 0 or -errno. */
int fs_private_fix_fd(int fd);
