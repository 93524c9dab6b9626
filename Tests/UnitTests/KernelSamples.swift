/// memory.stat as real kernels print it, captured on this project's machines.
enum KernelSamples {
    /// This host (kernel 6.18, cgroup v1), a session cgroup after 1.2 GB of file writes: nearly all of
    /// usage is page cache, 57 MB of it dirty. usage_in_bytes was 1,206,521,856.
    static let v1Stat = """
cache 1204703232
rss 1818624
rss_huge 0
shmem 0
mapped_file 4096
dirty 57184256
writeback 0
workingset_refault_anon 0
workingset_refault_file 6271
swap 0
swapcached 0
pgpgin 2406779
pgpgout 2249978
pgfault 4866310
pgmajfault 585
inactive_anon 1703936
active_anon 12288
inactive_file 867979264
active_file 336723968
unevictable 0
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 1204703232
total_rss 1818624
total_rss_huge 0
total_shmem 0
total_mapped_file 4096
total_dirty 57184256
total_writeback 0
total_workingset_refault_anon 0
total_workingset_refault_file 6271
total_swap 0
total_swapcached 0
total_pgpgin 2406779
total_pgpgout 2249978
total_pgfault 4866310
total_pgmajfault 585
total_inactive_anon 1703936
total_active_anon 12288
total_inactive_file 867979264
total_active_file 336723968
total_unevictable 0
"""

    /// Debian 12's kernel (6.1) on cgroup v2 in the qemu VM (scripts/cgroup-v2-vm): a 256 MiB cgroup
    /// with 100 MiB of anonymous memory and a writer on a 20 MB/s disk, 48 MB dirty or under writeback.
    static let v2Current: UInt64 = 267_853_824
    static let v2Stat = """
anon 106078208
file 156983296
kernel 5038080
kernel_stack 32768
pagetables 274432
sec_pagetables 0
percpu 0
sock 0
vmalloc 0
shmem 0
zswap 0
zswapped 0
file_mapped 0
file_dirty 2646016
file_writeback 45277184
swapcached 0
anon_thp 4194304
file_thp 0
shmem_thp 0
inactive_anon 106074112
active_anon 4096
inactive_file 156950528
active_file 8192
unevictable 0
slab_reclaimable 4658784
slab_unreclaimable 30376
slab 4689160
workingset_refault_anon 0
workingset_refault_file 0
workingset_activate_anon 0
workingset_activate_file 0
workingset_restore_anon 0
workingset_restore_file 0
workingset_nodereclaim 0
pgscan 0
pgsteal 0
pgscan_kswapd 0
pgscan_direct 0
pgsteal_kswapd 0
pgsteal_direct 0
pgfault 26004
pgmajfault 0
pgrefill 0
pgactivate 0
pgdeactivate 0
pglazyfree 0
pglazyfreed 0
zswpin 0
zswpout 0
thp_fault_alloc 0
thp_collapse_alloc 2
"""
    /// memory.current − (inactive_file + active_file) + file_dirty + file_writeback.
    static let v2Unreclaimable: UInt64 = 267_853_824 - (156_950_528 + 8_192) + (2_646_016 + 45_277_184)
}
