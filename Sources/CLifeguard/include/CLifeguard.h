#ifndef CLIFEGUARD_H
#define CLIFEGUARD_H

// Linux entry points Swift's Glibc module does not import (the signalfd and eventfd headers)
// or cannot call (the variadic prctl), plus the fork/exec child path.

#include <signal.h>
#include <sys/types.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <time.h>

/// Registers the caller as a child subreaper (PR_SET_CHILD_SUBREAPER). Returns 0 or -1 with errno.
int lg_set_child_subreaper(void);

/// What `lg_spawn` reports.
typedef enum {
    LG_SPAWN_OK = 0,
    /// pipe(2) or fork(2) failed in the parent; `*error` holds errno.
    LG_SPAWN_FORK_FAILED = 1,
    /// The child could not exec the command; `*error` holds the exec errno. The child is already reaped.
    LG_SPAWN_EXEC_FAILED = 2,
} lg_spawn_result;

/// Starts `file` (searched in PATH like execvp) with `argv` and `envp`.
///
/// Between fork and exec the child only calls async-signal-safe functions:
/// - `new_process_group`: becomes the leader of its own process group (so the group can be signalled);
/// - `take_terminal`: when stdin is a terminal, makes its group the terminal's foreground group;
/// - every signal in `reset_to_default` gets SIG_DFL (the ones the supervisor ignored for itself);
/// - the signal mask becomes `child_mask` (the mask the supervisor started with).
/// An exec failure is reported through a close-on-exec pipe, so `*error` is the child's real errno.
lg_spawn_result lg_spawn(const char *file, char *const argv[], char *const envp[],
                         const sigset_t *child_mask, const sigset_t *reset_to_default,
                         int new_process_group, int take_terminal,
                         pid_t *pid_out, int *error);

/// ppoll(2) with no signal mask change (a GNU extension Swift's Glibc module does not expose).
/// `timeout` NULL waits forever.
int lg_ppoll(struct pollfd *fds, nfds_t count, const struct timespec *timeout);

/// A datagram socket bound at `path` for the systemd notify protocol: close-on-exec, non-blocking,
/// mode 0666 (a server running as another user must be able to send), SO_PASSCRED on so every
/// datagram carries its sender's pid. A stale socket file at `path` is replaced. -1 with errno.
int lg_notify_socket_bind(const char *path);

/// Receives one datagram; `*sender` is the sending pid from SCM_CREDENTIALS (0 if absent).
/// Returns the byte count, or -1 with errno (EAGAIN when nothing is pending).
ssize_t lg_notify_receive(int fd, void *buffer, size_t capacity, pid_t *sender);

/// Starts a non-blocking stream connection to a unix socket (`path`) or to a numeric IPv4/IPv6
/// address and port (`host`, `port`). Returns the socket (close-on-exec) with `*in_progress` 1 when
/// the connection completes later (the socket then becomes readable with the server's greeting, or
/// with the connect's error), or -1 with errno.
int lg_connect_stream(const char *path, const char *host, int port, int *in_progress);

/// The pid of the process at the other end of a connected unix socket (SO_PEERCRED), or -1.
pid_t lg_peer_pid(int fd);

/// mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT): lock pages as they are faulted in. 0 or -1.
int lg_mlockall_onfault(void);

/// Sets the calling thread's effective user ID only (setresuid by raw syscall). 0 or -1.
int lg_thread_set_euid(uid_t euid);

/// RLIMIT_MEMLOCK's soft limit in bytes; ~0 when unlimited (or unreadable: then a lock simply fails).
unsigned long long lg_memlock_limit(void);

/// mlock2(address, length, MLOCK_ONFAULT), by syscall (older glibc lacks the wrapper). 0 or -1.
int lg_mlock_onfault(void *address, size_t length);

/// The calling thread's system-call mock (LifeguardSystem's `SystemCallMock`, debug builds only), or
/// NULL: a thread-local, so a test that forces EINTR or ESRCH on its own thread affects no other test.
void *lg_thread_mock(void);
void lg_set_thread_mock(void *mock);

#endif
