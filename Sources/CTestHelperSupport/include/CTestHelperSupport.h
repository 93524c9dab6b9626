#ifndef CTESTHELPERSUPPORT_H
#define CTESTHELPERSUPPORT_H

#include <stdint.h>
#include <sys/types.h>

/// fork(2) (Swift marks fork unavailable on some platforms).
pid_t lg_fork(void);

/// Sets every signal's action to SIG_DFL through the raw rt_sigaction system call, including the two
/// numbers glibc keeps for itself (32 and 33), which sigaction(3) refuses.
void lg_reset_all_signal_actions(void);

/// pipe2(fds, O_CLOEXEC): a pipe no concurrently spawned process can inherit.
int lg_pipe_cloexec(int fds[2]);

/// Enters a new cgroup namespace and mount namespace and remounts cgroup2 read-only at
/// /sys/fs/cgroup, as Docker does for a container on cgroup v2: /proc/self/cgroup then says "0::/"
/// and the container's cgroup is the mount's root. Returns 0, or -1 with errno.
int lg_test_enter_container_cgroup_namespace(void);

/// The hog's timeline for the benchmarks (Timeline.c): maps PATH with room for ENTRIES readings.
int lg_timeline_open(const char *path, long entries);
/// Opens a v1 memory cgroup's usage and stat files; each lg_timeline_end then reads its unreclaimable
/// memory (usage less the file cache, as the guard counts it on v1).
int lg_timeline_watch_cgroup_v1(const char *directory);
/// CLOCK_MONOTONIC in nanoseconds.
int64_t lg_timeline_now(void);
/// Records that a chunk begins now; returns its entry for lg_timeline_end. Safe from several threads.
int64_t lg_timeline_begin(void);
/// Completes the entry: the chunk is touched, the cgroup's unreclaimable memory read now.
void lg_timeline_end(int64_t entry);
/// Stores the time SIGTERM arrived; async-signal-safe.
void lg_timeline_mark_term(void);

#endif
