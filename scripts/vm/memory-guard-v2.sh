# shellcheck shell=sh
# Memory-guard scenarios on a real cgroup v2, run inside the VM by scripts/cgroup-v2-vm.
# Each prints: RESULT <name> rc=<exit code> oom_kill=<kernel OOM kills in the cgroup>, then LOG lines.

# run NAME PARENT_MAX CHILD_MAX COMMAND...: runs COMMAND in /sys/fs/cgroup/NAME (limit CHILD_MAX), or in
# NAME/ctr when PARENT_MAX is set (the limit then on the parent only: a nested cgroup).
run() {
    name=$1 parent_max=$2 child_max=$3; shift 3
    dir=/sys/fs/cgroup/$name
    mkdir "$dir"
    if [ "$parent_max" != - ]; then
        echo "$parent_max" > "$dir/memory.max"
        echo +memory > "$dir/cgroup.subtree_control"
        dir=$dir/ctr
        mkdir "$dir"
    fi
    [ "$child_max" != - ] && echo "$child_max" > "$dir/memory.max"
    echo 255013684 > "$dir/memory.low"
    sh -c 'echo $$ > "$0/cgroup.procs"; exec "$@"' "$dir" "$@" > "/tmp/$name.out" 2>&1
    rc=$?
    kills=$(grep '^oom_kill ' "/sys/fs/cgroup/$name/memory.events" | cut -d' ' -f2)
    echo "RESULT $name rc=$rc oom_kill=$kills"
    sed "s/^/LOG $name /" "/tmp/$name.out"
}

# As Docker runs a container on v2: a private cgroup namespace with cgroupfs mounted read-only, so
# /proc/self/cgroup says 0::/ and the container's cgroup is the mount's root.
# (busybox's unshare has no cgroup namespace: the helper makes it.)
printf '#!/bin/sh\nexec /helper container-cgroupns "$@"\n' > /bin/container
# Lifeguard exiting 75 after a memory stop, so each scenario ends by itself.
printf '#!/bin/sh\nexec /lifeguard --on-memory-limit exit "$@"\n' > /bin/lg
chmod +x /bin/container /bin/lg

run noguard - 268435456 /helper hog 100
run term - 268435456 lg --grace-period 2 /helper hog 100
run ignore - 268435456 lg --grace-period 1 /helper hog 100 --stop-at 250 --ignore-term
run max - 268435456 lg --grace-period 2 /helper hog max
run container - 268435456 container lg --grace-period 2 /helper hog 100
run nested 268435456 - lg --grace-period 2 /helper hog 100
# The guard off: a background process in the container is OOM-killed by the kernel; memory.events
# wakes Lifeguard (POLLPRI), which records the kill while the main child runs on.
run oomwatch - 134217728 /lifeguard --log-level debug --memory-limit off sh -c '/helper hog 300 & exec /helper sleep 4'
