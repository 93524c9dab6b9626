# shellcheck shell=sh
# Page cache on a real cgroup v2, run inside the VM by scripts/cgroup-v2-vm with VM_DISKS=1 (/mnt/fast,
# and /mnt/slow whose writes are throttled to 20 MB/s). Prints RESULT <name> rc=… oom_kill=… stops=…
# peak=…, then LOG lines. "The database" is the test helper holding anonymous memory under Lifeguard.

# start NAME HOLD_MIB: Lifeguard and a hog holding HOLD_MIB in /sys/fs/cgroup/NAME (the article's limits).
start() {
    name=$1 hold=$2
    dir=/sys/fs/cgroup/$name
    mkdir "$dir"
    echo 268435456 > "$dir/memory.max"
    echo 255013684 > "$dir/memory.low"
    sh -c 'echo $$ > "$0/cgroup.procs"; exec /lifeguard --on-memory-limit exit --status-file none /helper hog 400 --stop-at "$1"' \
        "$dir" "$hold" > "/tmp/$name.out" 2>&1 &
    pid=$!
    sleep 3
}

# inside NAME COMMAND...: COMMAND as a process of the cgroup.
inside() {
    sh -c 'echo $$ > "/sys/fs/cgroup/$0/cgroup.procs"; exec "$@"' "$@"
}

# finish NAME: SIGTERM to Lifeguard (a stop from outside: exit 0), then the figures.
finish() {
    name=$1
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    kills=$(grep '^oom_kill ' "/sys/fs/cgroup/$name/memory.events" | cut -d' ' -f2)
    stops=$(grep -c 'memory limit reached' "/tmp/$name.out")
    echo "RESULT $name rc=$rc oom_kill=$kills stops=$stops peak=$(cat "/sys/fs/cgroup/$name/memory.peak")"
    sed "s/^/LOG $name /" "/tmp/$name.out"
}

# 600 MB written, then a 400 MB file read three times, next to 100 MiB of anonymous memory: page
# cache, never a stop (the peak shows the cache filled the cgroup).
start cache 100
inside cache dd if=/dev/zero of=/mnt/fast/written bs=1048576 count=600 2>/dev/null
rm /mnt/fast/written
dd if=/dev/zero of=/mnt/fast/read bs=1048576 count=400 2>/dev/null
sync
echo 1 > /proc/sys/vm/drop_caches
for _ in 1 2 3; do inside cache cat /mnt/fast/read > /dev/null; done
finish cache

# 236 MiB held: below the trigger (243.8 MiB) with room to spare, so no stop for 5 s. Then a writer on
# the slow disk: on v2 reclaim does not wait for writeback, so the pages under writeback count, and
# the guard stops the command before the kernel would kill it.
start slow 236
sleep 5
echo "CHECK slow stops_before_writer=$(grep -c 'memory limit reached' /tmp/slow.out)"
inside slow dd if=/dev/zero of=/mnt/slow/written bs=1048576 count=2000 2>/dev/null &
writer=$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    grep -q 'memory limit reached' /tmp/slow.out && break
    sleep 1
done
wait "$pid"
rc=$?
kill "$writer" 2>/dev/null
kills=$(grep '^oom_kill ' /sys/fs/cgroup/slow/memory.events | cut -d' ' -f2)
echo "RESULT slow rc=$rc oom_kill=$kills stops=$(grep -c 'memory limit reached' /tmp/slow.out) peak=$(cat /sys/fs/cgroup/slow/memory.peak)"
sed "s/^/LOG slow /" /tmp/slow.out
