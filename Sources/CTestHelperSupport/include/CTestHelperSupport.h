#ifndef CTESTHELPERSUPPORT_H
#define CTESTHELPERSUPPORT_H

/// Enters a new cgroup namespace and mount namespace and remounts cgroup2 read-only at
/// /sys/fs/cgroup, as Docker does for a container on cgroup v2: /proc/self/cgroup then says "0::/"
/// and the container's cgroup is the mount's root. Returns 0, or -1 with errno.
int lg_test_enter_container_cgroup_namespace(void);

#endif
