/* proc.c — posix_spawn a helper program with pipes for its output and a deadline. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "errors.h"
#include "strbuf.h"
#include "util.h"

extern char **environ;

int proc_run(char *const argv[], int timeout_ms, char **ret_out, char **ret_err) {
        int out[2] = { -1, -1 }, err[2] = { -1, -1 };
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                int r = -errno;
                for (int i = 0; i < 2; i++) {
                        if (out[i] >= 0)
                                close(out[i]);
                        if (err[i] >= 0)
                                close(err[i]);
                }
                return r;
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        pid_t pid;
        int r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(out[1]);
        close(err[1]);
        if (r != 0) {
                close(out[0]);
                close(err[0]);
                return -r;
        }

        struct strbuf ob = STRBUF_INIT(1 << 20), eb = STRBUF_INIT(64 << 10);
        struct pollfd pfd[2] = { { .fd = out[0], .events = POLLIN }, { .fd = err[0], .events = POLLIN } };
        int64_t deadline = mono_ms() + timeout_ms;
        bool timed_out = false;
        int open_fds = 2;
        while (open_fds > 0) {
                int64_t left = deadline - mono_ms();
                if (left <= 0) {
                        timed_out = true;
                        break;
                }
                int k = poll(pfd, 2, (int) left);
                if (k < 0 && errno != EINTR)
                        break;
                for (int i = 0; i < 2; i++) {
                        if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        char buf[4096];
                        ssize_t n = read(pfd[i].fd, buf, sizeof buf);
                        if (n <= 0) {
                                close(pfd[i].fd);
                                pfd[i].fd = -1;
                                open_fds--;
                                continue;
                        }
                        /* Output past the cap is dropped, the child still runs to its end. */
                        (void) strbuf_append(i == 0 ? &ob : &eb, buf, (size_t) n);
                }
        }
        for (int i = 0; i < 2; i++)
                if (pfd[i].fd >= 0)
                        close(pfd[i].fd);
        if (timed_out)
                kill(pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (ret_out)
                *ret_out = strbuf_steal(&ob);
        if (ret_err)
                *ret_err = strbuf_steal(&eb);
        strbuf_clear(&ob);
        strbuf_clear(&eb);
        if (timed_out)
                return TIDE_E_TIMEOUT;
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}
