import Glibc

/// Path-level calls: what exists, links, directories, renames.
public enum FileSystem {
    /// access(F_OK).
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Whether `path` is a directory (stat(2), following links).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// readlink(2): where a symbolic link points.
    public static func readLink(_ path: String) throws(Errno) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = try valueOrErrno(readlink(path, &buffer, buffer.count - 1))
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in a directory, "." and ".." left out.
    public static func entries(of directory: String) throws(Errno) -> [String] {
        guard let stream = opendir(directory) else { throw Errno.current }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func remove(_ path: UnsafePointer<CChar>) throws(Errno) {
        try valueOrErrno(unlink(path))
    }

    public static func remove(_ path: String) throws(Errno) {
        try valueOrErrno(unlink(path))
    }

    /// rename(2): atomic within a filesystem.
    public static func rename(_ from: UnsafePointer<CChar>, to: UnsafePointer<CChar>) throws(Errno) {
        try valueOrErrno(Glibc.rename(from, to))
    }

    /// mkdir(2); EEXIST when something is there already.
    public static func makeDirectory(_ path: String, mode: mode_t) throws(Errno) {
        try valueOrErrno(mkdir(path, mode))
    }
}

extension FileDescriptor {
    /// fchmod(2).
    public func setMode(_ mode: mode_t) throws(Errno) {
        try valueOrErrno(fchmod(rawValue, mode))
    }

    /// posix_fadvise(POSIX_FADV_DONTNEED) over the whole file: its unmapped cached pages are dropped.
    public func dropCachedPages() throws(Errno) {
        let result = posix_fadvise(rawValue, 0, 0, POSIX_FADV_DONTNEED)
        if result != 0 { throw Errno(rawValue: result) }  // it returns the error number; errno is untouched
    }
}
