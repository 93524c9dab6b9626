#define _GNU_SOURCE
#include "CAllocationCounter.h"

#include <errno.h>
#include <execinfo.h>
#include <stdlib.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static __thread int counting;
static __thread long allocations;
static __thread long at_first_kill = -1;
static __thread int tracing;

/// With LG_ALLOCATION_TRACE set, prints a backtrace of every counted allocation (to find them).
static void note_allocation(void) {
    allocations++;
    if (tracing) return;
    tracing = 1;
    if (getenv("LG_ALLOCATION_TRACE") != NULL) {
        void *frames[24];
        int count = backtrace(frames, 24);
        backtrace_symbols_fd(frames, count, 2);
        (void)!write(2, "----\n", 5);
    }
    tracing = 0;
}

void lg_allocations_start(void) {
    allocations = 0;
    at_first_kill = -1;
    counting = 1;
}

long lg_allocations_stop(void) {
    counting = 0;
    return allocations;
}

long lg_allocations_at_first_kill(void) { return at_first_kill; }

void *malloc(size_t size) {
    if (counting) note_allocation();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    if (counting) note_allocation();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    if (counting) note_allocation();
    return __libc_realloc(pointer, size);
}

void free(void *pointer) { __libc_free(pointer); }

void *memalign(size_t alignment, size_t size) {
    if (counting) note_allocation();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    if (counting) note_allocation();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (counting) note_allocation();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *out = pointer;
    return 0;
}

int kill(pid_t pid, int signal) {
    if (counting && at_first_kill < 0) at_first_kill = allocations;
    return (int)syscall(SYS_kill, pid, signal);
}
