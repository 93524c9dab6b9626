#define _GNU_SOURCE
#include "CLifeguard.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int lg_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL);
}

int lg_is_child_subreaper(void) {
    int value = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&value, 0UL, 0UL, 0UL) != 0) return -1;
    return value != 0;
}

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

int lg_ppoll(struct pollfd *fds, nfds_t count, const struct timespec *timeout) {
    return ppoll(fds, count, timeout, NULL);
}

/// The child side of lg_spawn. Runs between fork and exec: async-signal-safe calls only.
static void lg_spawn_child(int report_fd, const char *file, char *const argv[], char *const envp[],
                           const sigset_t *child_mask, const sigset_t *reset_to_default,
                           int new_process_group, int take_terminal) {
    if (new_process_group) {
        (void)setpgid(0, 0);
        // SIGTTOU is still blocked here, so tcsetpgrp from a background group is allowed.
        if (take_terminal && isatty(STDIN_FILENO)) (void)tcsetpgrp(STDIN_FILENO, getpgrp());
    }
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(reset_to_default, sig) == 1) {
            struct sigaction action = {0};
            action.sa_handler = SIG_DFL;
            (void)sigaction(sig, &action, NULL);
        }
    }
    (void)sigprocmask(SIG_SETMASK, child_mask, NULL);
    execvpe(file, argv, envp);
    int exec_errno = errno;
    ssize_t ignored = write(report_fd, &exec_errno, sizeof exec_errno);
    (void)ignored;
    _exit(127);
}

lg_spawn_result lg_spawn(const char *file, char *const argv[], char *const envp[],
                         const sigset_t *child_mask, const sigset_t *reset_to_default,
                         int new_process_group, int take_terminal,
                         pid_t *pid_out, int *error) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *error = errno;
        return LG_SPAWN_FORK_FAILED;
    }
    pid_t pid = fork();
    if (pid < 0) {
        *error = errno;
        close(report[0]);
        close(report[1]);
        return LG_SPAWN_FORK_FAILED;
    }
    if (pid == 0) {
        close(report[0]);
        lg_spawn_child(report[1], file, argv, envp, child_mask, reset_to_default,
                       new_process_group, take_terminal);
    }
    close(report[1]);
    // The parent also sets the group, so a signal sent to -pid right after we return cannot miss
    // (the child may not have run yet). EACCES after the child's exec is harmless.
    if (new_process_group) (void)setpgid(pid, pid);

    int exec_errno = 0;
    ssize_t n;
    do {
        n = read(report[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof exec_errno) {
        // exec failed: reap the child here so the supervisor never mistakes it for the command.
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        *error = exec_errno;
        return LG_SPAWN_EXEC_FAILED;
    }
    *pid_out = pid;
    *error = 0;
    return LG_SPAWN_OK;
}
