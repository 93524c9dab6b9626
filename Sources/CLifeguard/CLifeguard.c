#define _GNU_SOURCE
#include "CLifeguard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int lg_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL);
}

int lg_ppoll(struct pollfd *fds, nfds_t count, const struct timespec *timeout) {
    return ppoll(fds, count, timeout, NULL);
}

/// The child side of lg_spawn. Runs between fork and exec: async-signal-safe calls only.
static void lg_spawn_child(int report_fd, const char *file, char *const argv[], char *const envp[],
                           const sigset_t *child_mask, const sigset_t *reset_to_default,
                           int new_process_group, int take_terminal) {
    if (new_process_group) {
        (void)setpgid(0, 0);
        // SIGTTOU is still ignored here (Lifeguard's disposition; reset to default below), so
        // tcsetpgrp from a background group is allowed instead of stopping the child.
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

int lg_notify_socket_bind(const char *path) {
    struct sockaddr_un address = {0};
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int on = 1;
    (void)unlink(path);
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0 ||
        bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || chmod(path, 0666) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

ssize_t lg_notify_receive(int fd, void *buffer, size_t capacity, pid_t *sender) {
    struct iovec vector = {.iov_base = buffer, .iov_len = capacity};
    union {
        char bytes[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } control;
    struct msghdr message = {0};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.bytes;
    message.msg_controllen = sizeof control.bytes;
    ssize_t count;
    do {
        count = recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (count < 0 && errno == EINTR);
    *sender = 0;
    if (count < 0) return -1;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_CREDENTIALS &&
            header->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
            struct ucred credentials;
            memcpy(&credentials, CMSG_DATA(header), sizeof credentials);
            *sender = credentials.pid;
        }
    }
    return count;
}

int lg_connect_stream(const char *path, const char *host, int port, int *in_progress) {
    struct sockaddr_storage storage = {0};
    socklen_t length;
    int family;
    if (path != NULL) {
        struct sockaddr_un *address = (struct sockaddr_un *)&storage;
        if (strlen(path) >= sizeof address->sun_path) {
            errno = ENAMETOOLONG;
            return -1;
        }
        address->sun_family = family = AF_UNIX;
        strcpy(address->sun_path, path);
        length = sizeof *address;
    } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
        if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
            v4->sin_family = family = AF_INET;
            v4->sin_port = htons((uint16_t)port);
            length = sizeof *v4;
        } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
            v6->sin6_family = family = AF_INET6;
            v6->sin6_port = htons((uint16_t)port);
            length = sizeof *v6;
        } else {
            errno = EINVAL;
            return -1;
        }
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    *in_progress = 0;
    if (connect(fd, (struct sockaddr *)&storage, length) != 0) {
        if (errno == EINPROGRESS) {
            *in_progress = 1;
        } else {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
    }
    return fd;
}

pid_t lg_peer_pid(int fd) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    return credentials.pid;
}

int lg_mlockall_onfault(void) {
#ifdef MCL_ONFAULT
    return mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int lg_thread_set_euid(uid_t euid) {
    /* The raw system call: credentials are per thread in the kernel, and glibc's setresuid(3)
       would change every thread of the process. */
    return (int)syscall(SYS_setresuid, (uid_t)-1, euid, (uid_t)-1);
}

unsigned long long lg_memlock_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return ~0ULL;
    return (unsigned long long)limit.rlim_cur;
}

int lg_mlock_onfault(void *address, size_t length) {
#if defined(SYS_mlock2) && defined(MLOCK_ONFAULT)
    return (int)syscall(SYS_mlock2, address, length, MLOCK_ONFAULT);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static _Thread_local void *thread_mock;

void *lg_thread_mock(void) {
    return thread_mock;
}

void lg_set_thread_mock(void *mock) {
    thread_mock = mock;
}
