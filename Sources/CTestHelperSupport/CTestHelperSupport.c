#define _GNU_SOURCE
#include "CTestHelperSupport.h"

#include <sched.h>
#include <stddef.h>
#include <sys/mount.h>

int lg_test_enter_container_cgroup_namespace(void) {
    if (unshare(CLONE_NEWCGROUP | CLONE_NEWNS) != 0) return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return -1;
    if (umount2("/sys/fs/cgroup", MNT_DETACH) != 0) return -1;
    return mount("none", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}
