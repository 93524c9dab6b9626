/*
 * spawn-timer: starts COMMAND N times, one after the other, and prints one line per call:
 *   wall_ns user_us system_us exit_status
 * Wall time is CLOCK_MONOTONIC from just before posix_spawn to the child reaped; CPU is the
 * child's own, from wait4. Used by bench/ to compare probes without the noise of a Python fork.
 *
 * Usage: spawn-timer N COMMAND [ARG...]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long microseconds(struct timeval tv) { return (long long)tv.tv_sec * 1000000LL + tv.tv_usec; }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: spawn-timer N COMMAND [ARG...]\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    for (int run = 0; run < runs; run++) {
        pid_t pid;
        int status;
        struct rusage usage;
        long long start = now_ns();
        if (posix_spawnp(&pid, argv[2], &actions, NULL, argv + 2, environ) != 0) {
            perror("spawn-timer: posix_spawnp");
            return 1;
        }
        if (wait4(pid, &status, 0, &usage) != pid) {
            perror("spawn-timer: wait4");
            return 1;
        }
        long long wall = now_ns() - start;
        printf("%lld %lld %lld %d\n", wall, microseconds(usage.ru_utime), microseconds(usage.ru_stime),
               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    return 0;
}
