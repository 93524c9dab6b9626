import LifeguardSystem

/// Which cgroup version holds the memory controller.
public enum CgroupVersion: String, Sendable, Equatable {
    case v1
    case v2
}

/// Where Lifeguard's memory cgroup is, found from `/proc/self/cgroup` and the cgroup mount.
public struct CgroupLocation: Sendable, Equatable {
    public var version: CgroupVersion
    /// The cgroup's directory, e.g. `/sys/fs/cgroup/memory/docker/abc` or `/sys/fs/cgroup`.
    public var directory: String
    /// The controller's mount point (v1: `<root>/memory`; v2: `<root>`): the top of the ancestors
    /// walked for an effective limit.
    public var mountPoint: String
    /// True when the path from /proc/self/cgroup did not exist under the mount and the mount root
    /// was used instead (Docker on v1 shares the host's cgroup namespace).
    public var usedMountRootFallback: Bool

    public init(version: CgroupVersion, directory: String, mountPoint: String, usedMountRootFallback: Bool = false) {
        self.version = version
        self.directory = directory
        self.mountPoint = mountPoint
        self.usedMountRootFallback = usedMountRootFallback
    }

    /// Finds the memory cgroup.
    /// - Parameters:
    ///   - root: the cgroup filesystem root (`LIFEGUARD_CGROUP_ROOT`, default `/sys/fs/cgroup`).
    ///   - procSelfCgroup: the text of `/proc/self/cgroup`.
    ///   - mountInfo: the text of `/proc/self/mountinfo`, to strip a mount's root from the path (a
    ///     v1 container sees `/docker/<id>` in /proc/self/cgroup but has that cgroup mounted as `/`).
    ///   - exists: file existence, injectable for tests.
    /// - Returns: nil when no memory controller is available (Lifeguard then runs as a plain init).
    public static func discover(
        root: String, procSelfCgroup: String, mountInfo: String?, exists: (String) -> Bool
    ) -> CgroupLocation? {
        let root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        let lines = procSelfCgroup.split(separator: "\n")

        // v1 (or hybrid): a hierarchy line naming the memory controller, "4:memory:/docker/abc".
        for line in lines {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0] != "0",
                  fields[1].split(separator: ",").contains("memory") else { continue }
            let mount = root + "/memory"
            guard exists(mount + "/memory.usage_in_bytes") else { continue }
            return resolve(.v1, path: String(fields[2]), mount: mount, mountInfo: mountInfo,
                           probe: "memory.usage_in_bytes", exists: exists)
        }
        // v2: "0::/path", possibly " (deleted)".
        for line in lines where line.hasPrefix("0::") {
            var path = String(line.dropFirst(3))
            if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
            guard let location = resolve(.v2, path: path, mount: root, mountInfo: mountInfo,
                                         probe: "memory.current", exists: exists) else { return nil }
            // The root cgroup has no memory.current: no controller to read.
            return exists(location.directory + "/memory.current") ? location : nil
        }
        return nil
    }

    private static func resolve(
        _ version: CgroupVersion, path: String, mount: String, mountInfo: String?, probe: String,
        exists: (String) -> Bool
    ) -> CgroupLocation? {
        var relative = path
        if let mountRoot = mountInfo.flatMap({ mountRootOf(mountPoint: mount, in: $0) }), mountRoot != "/",
           relative == mountRoot || relative.hasPrefix(mountRoot + "/") {
            relative = String(relative.dropFirst(mountRoot.count))
        }
        if relative.isEmpty || relative == "/" {
            return CgroupLocation(version: version, directory: mount, mountPoint: mount)
        }
        let candidate = mount + (relative.hasPrefix("/") ? relative : "/" + relative)
        if exists(candidate + "/" + probe) {
            return CgroupLocation(version: version, directory: candidate, mountPoint: mount)
        }
        return CgroupLocation(version: version, directory: mount, mountPoint: mount, usedMountRootFallback: true)
    }

    /// The `root` field (4th) of the mountinfo line whose mount point (5th) is `mountPoint`.
    static func mountRootOf(mountPoint: String, in mountInfo: String) -> String? {
        for line in mountInfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 4, fields[4] == mountPoint { return String(fields[3]) }
        }
        return nil
    }

    /// The directories from this cgroup up to (and including) the mount point: where an effective
    /// limit is looked for on v2 (a parent's `memory.max` bounds its children).
    public var selfAndAncestors: [String] {
        var result = [directory]
        var current = directory
        while current.count > mountPoint.count, let slash = current.lastIndex(of: "/") {
            current = String(current[..<slash])
            if current.count < mountPoint.count { break }
            result.append(current)
        }
        return result
    }
}
