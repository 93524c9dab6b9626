# shellcheck shell=sh
# What the kernel cannot reclaim in time, without any guard: run inside the VM by bench/reclaim.py
# (scripts/cgroup-v2-vm with VM_DISKS=1, v1 or v2). Each trial: a 256 MiB cgroup, two writers on a
# disk (/mnt/slow: 20 MB/s, or /mnt/fast), then a hog holding LEVEL MiB of anonymous memory for 12 s.
# Prints TRIAL lines: whether the kernel OOM-killed, and the file cache and writeback it left at the
# kill (from its own report). SLAB trials: files created next to 200 MiB held.
# Parameters (environment of the scenario, set at the top by bench/reclaim.py): LEVELS, RUNS, FAST_RUNS, SLAB_RUNS.
if [ -d /sys/fs/cgroup/memory ]; then version=v1; base=/sys/fs/cgroup/memory; else version=v2; base=/sys/fs/cgroup; fi
trial=0

make_cgroup() {
    trial=$((trial + 1))
    dir=$base/t$trial
    mkdir "$dir"
    if [ $version = v1 ]; then echo 268435456 > "$dir/memory.limit_in_bytes"; else echo 268435456 > "$dir/memory.max"; fi
}

kills() {
    if [ $version = v1 ]; then grep '^oom_kill ' "$dir/memory.oom_control" | cut -d' ' -f2
    else grep '^oom_kill ' "$dir/memory.events" | cut -d' ' -f2; fi
}

inside() { sh -c 'echo $$ > "$0/cgroup.procs"; exec "$@"' "$dir" "$@"; }

# KEY in the kernel's report on stdin ("[  21.08] key value": the key's field, wherever the time puts it).
report_value() { awk -v key="$1" '{ for (i = 1; i < NF; i++) if ($i == key) v = $(i + 1) } END { print v + 0 }'; }

# The kernel's own report of the last kill: file cache and writeback it could not take back.
at_kill() {
    report=$(dmesg | sed -n '/Memory cgroup stats/,/Tasks state/p' | tail -n 60)
    if [ $version = v1 ]; then
        file=$(echo "$report" | report_value total_cache)
        writeback=$(echo "$report" | report_value total_writeback)
        dirty=$(echo "$report" | report_value total_dirty)
    else
        file=$(echo "$report" | report_value file)
        writeback=$(echo "$report" | report_value file_writeback)
        dirty=$(echo "$report" | report_value file_dirty)
    fi
    echo "file_at_kill=$file dirty_at_kill=$dirty writeback_at_kill=$writeback"
}

clean_up() {
    while read -r p; do kill -9 "$p" 2>/dev/null; done < "$dir/cgroup.procs"
    sleep 1
    rmdir "$dir"
    rm -f /mnt/fast/w* /mnt/slow/w*
    dmesg -c > /dev/null
}

writer_trial() {
    disk=$1 level=$2
    make_cgroup
    for w in 1 2; do inside dd if=/dev/zero of="/mnt/$disk/w$trial-$w" bs=1048576 count=100000 2>/dev/null & done
    sleep 4
    inside /helper hog max --stop-at "$level" > /dev/null &
    sleep 12
    killed=$(kills)
    detail=""
    [ "$killed" -gt 0 ] && detail=$(at_kill)
    echo "TRIAL kind=writer cgroup=$version disk=$disk level_mib=$level killed=$killed $detail"
    clean_up
}

slab_trial() {
    make_cgroup
    inside /helper hog 400 --stop-at 200 > /dev/null &
    sleep 3
    mkdir -p "/mnt/fast/s$trial"
    # shellcheck disable=SC2016 # expanded by the inner shell
    inside sh -c 'cd "$0"; i=0; while [ $i -lt 400 ]; do mkdir d$i; j=0; while [ $j -lt 500 ]; do : > d$i/f$j; j=$((j+1)); done; i=$((i+1)); done' "/mnt/fast/s$trial" &
    maker=$!
    waited=0
    while kill -0 $maker 2>/dev/null && [ $waited -lt 150 ]; do sleep 1; waited=$((waited + 1)); done
    killed=$(kills)
    reclaimable=""
    if [ $version = v2 ] && [ "$killed" -gt 0 ]; then
        reclaimable="slab_reclaimable_at_kill=$(dmesg | sed -n '/Memory cgroup stats/,/Tasks state/p' | report_value slab_reclaimable)"
    fi
    echo "TRIAL kind=slab cgroup=$version level_mib=200 killed=$killed $reclaimable"
    kill -9 $maker 2>/dev/null
    clean_up
    rm -rf "/mnt/fast/s$trial"
}

for level in $LEVELS; do
    run=0; while [ $run -lt "$RUNS" ]; do writer_trial slow "$level"; run=$((run + 1)); done
    run=0; while [ $run -lt "$FAST_RUNS" ]; do writer_trial fast "$level"; run=$((run + 1)); done
done
run=0; while [ $run -lt "$SLAB_RUNS" ]; do slab_trial; run=$((run + 1)); done
