/*
 * naive-poller: the baseline the memory guard is measured against. Every INTERVAL it reads a v1
 * memory cgroup's usage and memory.stat, and when the working set (usage − total_inactive_file)
 * reaches TRIGGER bytes it sends SIGTERM to PID and exits. It also exits when PID is gone.
 * A fixed interval, no kernel notification, no growth model: what a cron-like watchdog does.
 *
 * Usage: naive-poller CGROUP_DIR INTERVAL_US TRIGGER_BYTES PID
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long read_number(int fd, const char *key) {
    char buffer[8192];
    ssize_t length = pread(fd, buffer, sizeof buffer - 1, 0);
    if (length <= 0) return -1;
    buffer[length] = 0;
    char *at = key ? strstr(buffer, key) : buffer;
    if (at == NULL) return -1;
    return strtoll(at + (key ? strlen(key) : 0), NULL, 10);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: naive-poller CGROUP_DIR INTERVAL_US TRIGGER_BYTES PID\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/memory.usage_in_bytes", argv[1]);
    int usage_fd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "%s/memory.stat", argv[1]);
    int stat_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (usage_fd < 0 || stat_fd < 0) {
        perror("naive-poller: open");
        return 1;
    }
    long long interval = atoll(argv[2]);
    long long trigger = atoll(argv[3]);
    pid_t pid = (pid_t)atoi(argv[4]);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        long long working_set = read_number(usage_fd, NULL) - read_number(stat_fd, "total_inactive_file ");
        if (working_set >= trigger) {
            kill(pid, SIGTERM);
            printf("fired %lld\n", working_set);
            return 0;
        }
        if (kill(pid, 0) != 0 && errno == ESRCH) return 0;
        next.tv_nsec += (interval % 1000000) * 1000;
        next.tv_sec += interval / 1000000 + next.tv_nsec / 1000000000;
        next.tv_nsec %= 1000000000;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
    }
}
