/*
 * function-trace: which functions a program runs, and when, by one-shot breakpoints (int3) on every
 * function entry of a non-PIE static executable. scripts/hot-code/order uses it to place the code
 * Lifeguard runs in its steady state next to each other. A build tool, not part of Lifeguard.
 *
 *   phase 0  start-up, until the program's first madvise(..., MADV_PAGEOUT) (Footprint.settle)
 *   phase 1  settle, the warmed emergency path and the steady loop, for STEADY_SECONDS
 *   phase 2  after the tracer sends SIGTERM: the graceful stop and the exit
 *
 * At each phase change every breakpoint is armed again, so a function is listed once per phase it
 * runs in. The functions on the stack when phase 1 starts (found through the frame-pointer chain)
 * count as phase 1 too: the loop itself runs in them, returned into, never entered again.
 * Forked children are attached, cleaned of breakpoints and let go. Threads (Lifeguard's output
 * thread) are traced too: they share the breakpoints, and what they run is listed with the phase.
 *
 * Usage: function-trace FUNCTIONS OUTPUT STEADY_SECONDS -- PROGRAM [ARG...]
 * FUNCTIONS: one hex address per line (function entries), the first line being madvise's.
 * OUTPUT: lines "PHASE HEX_ADDRESS".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define MADV_PAGEOUT_ADVICE 21

static uint64_t *addresses;
static unsigned char *original;
static unsigned char *armed;
static size_t count;
static volatile sig_atomic_t alarmed;

static void on_alarm(int signal) { (void)signal; alarmed = 1; }

static int set_byte(pid_t pid, uint64_t address, unsigned char byte) {
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, address, 0);
    if (errno) return -1;
    word = (word & ~0xffL) | byte;
    return (int)ptrace(PTRACE_POKETEXT, pid, address, word);
}

static size_t index_of(uint64_t address) {
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (addresses[middle] < address) low = middle + 1; else high = middle;
    }
    return low < count && addresses[low] == address ? low : (size_t)-1;
}

/* The function containing `address`: the greatest entry at or below it. */
static uint64_t function_of(uint64_t address) {
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (addresses[middle] <= address) low = middle + 1; else high = middle;
    }
    return low ? addresses[low - 1] : 0;
}

/* At the entry of a frameless leaf (madvise): the return address at rsp, then the rbp chain. */
static void record_stack(pid_t pid, const struct user_regs_struct *regs, int phase, FILE *out) {
    errno = 0;
    uint64_t ret = (uint64_t)ptrace(PTRACE_PEEKDATA, pid, regs->rsp, 0);
    uint64_t frame = regs->rbp;
    for (int depth = 0; depth < 64 && !errno; depth++) {
        uint64_t function = function_of(ret);
        if (function) fprintf(out, "%d %llx\n", phase, (unsigned long long)function);
        if (!frame || frame & 7) break;
        ret = (uint64_t)ptrace(PTRACE_PEEKDATA, pid, frame + 8, 0);
        frame = (uint64_t)ptrace(PTRACE_PEEKDATA, pid, frame, 0);
    }
}

static void arm_all(pid_t pid) {
    for (size_t i = 0; i < count; i++) {
        if (!armed[i] && set_byte(pid, addresses[i], 0xCC) == 0) armed[i] = 1;
    }
}

static void disarm_all(pid_t pid, int forget) {
    for (size_t i = 0; i < count; i++) {
        if (armed[i]) {
            set_byte(pid, addresses[i], original[i]);
            if (forget) armed[i] = 0;
        }
    }
}

/* The program's threads besides its main one (clone events). */
static pid_t threads[64];
static int thread_count;

static int is_thread(pid_t tid) {
    for (int i = 0; i < thread_count; i++) if (threads[i] == tid) return 1;
    return 0;
}

static void forget_thread(pid_t tid) {
    for (int i = 0; i < thread_count; i++) if (threads[i] == tid) { threads[i] = threads[--thread_count]; return; }
}

/* Whether `tid` is a thread of process `pid` (its stop can come before its clone event). */
static int belongs_to(pid_t tid, pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    int tgid = -1;
    while (fgets(line, sizeof line, file)) if (sscanf(line, "Tgid: %d", &tgid) == 1) break;
    fclose(file);
    return tgid == pid;
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: function-trace FUNCTIONS OUTPUT STEADY_SECONDS -- PROGRAM [ARG...]\n");
        return 2;
    }
    FILE *list = fopen(argv[1], "r"), *out = fopen(argv[2], "w");
    unsigned steady = (unsigned)atoi(argv[3]);
    if (!list || !out) { perror("function-trace"); return 1; }
    size_t capacity = 1 << 16;
    addresses = malloc(capacity * sizeof *addresses);
    unsigned long long value, madvise_address = 0;
    while (fscanf(list, "%llx", &value) == 1) {
        if (!madvise_address) { madvise_address = value; continue; }
        if (count == capacity) addresses = realloc(addresses, (capacity *= 2) * sizeof *addresses);
        addresses[count++] = value;
    }
    qsort(addresses, count, sizeof *addresses, compare);
    size_t unique = 0;
    for (size_t i = 0; i < count; i++) {
        if (addresses[i] != madvise_address && (unique == 0 || addresses[unique - 1] != addresses[i])) addresses[unique++] = addresses[i];
    }
    count = unique;
    original = calloc(count, 1);
    armed = calloc(count, 1);

    struct sigaction action = { .sa_handler = on_alarm }; /* no SA_RESTART: waitpid returns EINTR */
    sigaction(SIGALRM, &action, NULL);

    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execvp(argv[5], &argv[5]);
        perror("function-trace: exec");
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0); /* the SIGTRAP of execve */
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE);
    for (size_t i = 0; i < count; i++) {
        errno = 0;
        long word = ptrace(PTRACE_PEEKTEXT, pid, addresses[i], 0);
        original[i] = errno ? 0xCC : (unsigned char)(word & 0xff);
    }
    errno = 0;
    unsigned char madvise_original = (unsigned char)(ptrace(PTRACE_PEEKTEXT, pid, madvise_address, 0) & 0xff);
    arm_all(pid);
    set_byte(pid, madvise_address, 0xCC);
    fprintf(stderr, "function-trace: %zu breakpoints\n", count);

    int phase = 0, pending = 0, madvise_armed = 1, step_over_madvise = 0, resume = 1;
    for (;;) {
        if (resume) {
            long result = step_over_madvise ? ptrace(PTRACE_SINGLESTEP, pid, 0, 0) : ptrace(PTRACE_CONT, pid, 0, pending);
            if (result != 0) break;
            pending = 0;
        }
        resume = 1;
        pid_t stopped = waitpid(-1, &status, __WALL);
        if (stopped < 0 && errno == EINTR && alarmed && phase == 1) {
            alarmed = 0;
            /* Lifeguard blocks SIGTERM (it reads it from a signalfd), so no stop comes with it: stop
               the program with SIGSTOP, arm phase 2, then send SIGTERM. */
            kill(pid, SIGSTOP);
            stopped = waitpid(pid, &status, __WALL);
        }
        if (stopped < 0) break;
        if (stopped != pid && !is_thread(stopped) && belongs_to(stopped, pid) && thread_count < 64) threads[thread_count++] = stopped;
        if (stopped != pid && is_thread(stopped)) {
            /* Another thread of the program: it hit one of the shared breakpoints, or a stop. */
            if (WIFEXITED(status) || WIFSIGNALED(status)) { forget_thread(stopped); resume = 0; continue; }
            int signal = WSTOPSIG(status), deliver = 0;
            if (signal == SIGTRAP && !(status >> 16)) {
                struct user_regs_struct regs;
                ptrace(PTRACE_GETREGS, stopped, 0, &regs);
                uint64_t hit = regs.rip - 1;
                size_t i = index_of(hit);
                if (i != (size_t)-1 && armed[i]) {
                    set_byte(stopped, hit, original[i]);
                    armed[i] = 0;
                    regs.rip = hit;
                    ptrace(PTRACE_SETREGS, stopped, 0, &regs);
                    fprintf(out, "%d %llx\n", phase, (unsigned long long)hit);
                } else if (hit != madvise_address) {
                    deliver = SIGTRAP;
                } else {
                    regs.rip = hit; /* madvise's breakpoint is the main thread's marker: step it for this one */
                    ptrace(PTRACE_SETREGS, stopped, 0, &regs);
                    set_byte(stopped, madvise_address, madvise_original);
                    ptrace(PTRACE_SINGLESTEP, stopped, 0, 0);
                    waitpid(stopped, &status, __WALL);
                    if (madvise_armed) set_byte(stopped, madvise_address, 0xCC);
                }
            } else if (signal != SIGSTOP && signal != SIGTRAP) {
                deliver = signal;
            }
            ptrace(PTRACE_CONT, stopped, 0, deliver);
            resume = 0;
            continue;
        }
        if (stopped != pid) {
            /* A forked child: stopped by SIGSTOP on attach. It carries our breakpoints: clean, let go. */
            if (WIFSTOPPED(status)) {
                disarm_all(stopped, 0);
                if (madvise_armed) set_byte(stopped, madvise_address, madvise_original);
                ptrace(PTRACE_DETACH, stopped, 0, 0);
            }
            resume = 0; /* the traced program did not stop */
            continue;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) break;
        int signal = WSTOPSIG(status);
        if (step_over_madvise) {
            step_over_madvise = 0;
            if (madvise_armed) set_byte(pid, madvise_address, 0xCC);
            if (signal == SIGTRAP) continue;
        }
        if ((status >> 16) == PTRACE_EVENT_CLONE) {
            unsigned long tid = 0;
            ptrace(PTRACE_GETEVENTMSG, pid, 0, &tid);
            if (!is_thread((pid_t)tid) && thread_count < 64) threads[thread_count++] = (pid_t)tid;
            continue;
        }
        if (status >> 16) continue; /* fork event stop of the parent */
        if (signal == SIGSTOP && phase == 1) {
            phase = 2;
            arm_all(pid);
            fprintf(stderr, "function-trace: phase 2 (SIGTERM)\n");
            kill(pid, SIGTERM);
            continue;
        }
        if (signal != SIGTRAP) { pending = signal; continue; }
        struct user_regs_struct regs;
        ptrace(PTRACE_GETREGS, pid, 0, &regs);
        uint64_t hit = regs.rip - 1;
        if (hit == madvise_address) {
            regs.rip = hit;
            ptrace(PTRACE_SETREGS, pid, 0, &regs);
            set_byte(pid, madvise_address, madvise_original);
            fprintf(out, "%d %llx\n", phase, (unsigned long long)hit);
            if (phase == 0 && regs.rdx == MADV_PAGEOUT_ADVICE) {
                phase = 1;
                record_stack(pid, &regs, phase, out);
                madvise_armed = 0;
                arm_all(pid);
                alarm(steady);
                fprintf(stderr, "function-trace: phase 1 (settle)\n");
            } else {
                step_over_madvise = 1;
            }
            continue;
        }
        size_t i = index_of(hit);
        if (i == (size_t)-1 || !armed[i]) { pending = SIGTRAP; continue; } /* not ours */
        set_byte(pid, hit, original[i]);
        armed[i] = 0;
        regs.rip = hit;
        ptrace(PTRACE_SETREGS, pid, 0, &regs);
        fprintf(out, "%d %llx\n", phase, (unsigned long long)hit);
    }
    fprintf(stderr, "function-trace: done in phase %d\n", phase);
    fclose(out);
    return phase == 2 ? 0 : 1;
}
