#ifndef CALLOCATIONCOUNTER_H
#define CALLOCATIONCOUNTER_H

// Counts heap allocations made by the calling thread, by interposing malloc and its relatives in the
// test executable (glibc's __libc_* entry points do the real work). Also interposes kill(2) to record
// how many allocations had happened when the first kill was made: the memory guard's emergency path
// must reach kill(2) without allocating.

/// Starts counting on this thread (resets the counters).
void lg_allocations_start(void);
/// Stops counting; returns the allocations made on this thread since start.
long lg_allocations_stop(void);
/// Allocations counted when kill(2) was first called since start; -1 if kill was not called.
long lg_allocations_at_first_kill(void);

#endif
