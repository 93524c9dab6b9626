// The memory hog's timeline, for the benchmarks (bench/): when the memory the guard decides on grew and
// when SIGTERM arrived, measured on the child's side. A file mapped shared, so it survives the hog's _exit and the
// harness reads it afterwards. Layout, little-endian int64: [0] CLOCK_MONOTONIC ns at SIGTERM (0 if
// none), [1] entries recorded, then per chunk (CLOCK_MONOTONIC ns when the chunk's memset began, ns
// after the figure was read, unreclaimable bytes after the chunk). A chunk SIGTERM interrupted has
// only its beginning (the other two are 0).
#define _GNU_SOURCE
#include "CTestHelperSupport.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int64_t *timeline;
static int64_t capacity;
static int usage_fd = -1, stat_fd = -1;
static const char *inactive_key = "\ntotal_inactive_file ";
static const char *active_key = "\ntotal_active_file ";

int64_t lg_timeline_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int lg_timeline_open(const char *path, long entries) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t size = (size_t)(2 + 3 * entries) * sizeof(int64_t);
    if (ftruncate(fd, (off_t)size) != 0) { close(fd); return -1; }
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (memory == MAP_FAILED) return -1;
    timeline = memory;
    capacity = entries;
    return 0;
}

int lg_timeline_watch_cgroup_v1(const char *directory) {
    char path[4096];
    snprintf(path, sizeof path, "%s/memory.usage_in_bytes", directory);
    usage_fd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "%s/memory.stat", directory);
    stat_fd = open(path, O_RDONLY | O_CLOEXEC);
    return usage_fd >= 0 && stat_fd >= 0 ? 0 : -1;
}

static int64_t key_value(const char *buffer, const char *key) {
    const char *line = strstr(buffer, key);
    return line == NULL ? -1 : strtoll(line + strlen(key), NULL, 10);
}

/// usage − (total_inactive_file + total_active_file): the unreclaimable memory, as the guard computes
/// it on v1 (where dirty pages are reclaimable).
static int64_t unreclaimable(void) {
    char buffer[8192];
    ssize_t length = pread(usage_fd, buffer, sizeof buffer - 1, 0);
    if (length <= 0) return -1;
    buffer[length] = 0;
    int64_t usage = strtoll(buffer, NULL, 10);
    buffer[0] = '\n';
    length = pread(stat_fd, buffer + 1, sizeof buffer - 2, 0);
    if (length <= 0) return -1;
    buffer[length + 1] = 0;
    int64_t inactive = key_value(buffer, inactive_key), active = key_value(buffer, active_key);
    if (inactive < 0 || active < 0) return -1;
    return usage - inactive - active;
}

int64_t lg_timeline_begin(void) {
    if (timeline == NULL || usage_fd < 0) return -1;
    int64_t index = __atomic_fetch_add(&timeline[1], 1, __ATOMIC_RELAXED);
    if (index >= capacity) return -1;
    timeline[2 + 3 * index] = lg_timeline_now();
    return index;
}

void lg_timeline_end(int64_t index) {
    if (index < 0) return;
    int64_t bytes = unreclaimable();
    timeline[4 + 3 * index] = bytes;
    timeline[3 + 3 * index] = lg_timeline_now();
}

/// Async-signal-safe: called first thing in the SIGTERM handler.
void lg_timeline_mark_term(void) {
    if (timeline != NULL && timeline[0] == 0) timeline[0] = lg_timeline_now();
}
