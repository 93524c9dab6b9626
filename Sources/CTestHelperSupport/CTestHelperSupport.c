#define _GNU_SOURCE
#include "CTestHelperSupport.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

pid_t lg_fork(void) { return fork(); }

void lg_reset_all_signal_actions(void) {
    // The kernel's struct sigaction (not glibc's): handler, flags, restorer, mask.
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } action = {0};
    for (int sig = 1; sig <= 64; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)syscall(SYS_rt_sigaction, sig, &action, NULL, sizeof action.mask);
    }
}

int lg_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int lg_test_enter_container_cgroup_namespace(void) {
    if (unshare(CLONE_NEWCGROUP | CLONE_NEWNS) != 0) return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return -1;
    if (umount2("/sys/fs/cgroup", MNT_DETACH) != 0) return -1;
    return mount("none", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}
