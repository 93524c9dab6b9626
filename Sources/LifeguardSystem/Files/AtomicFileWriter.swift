import Glibc

/// Writes a small file atomically: a temporary file in the same directory, then rename(2), so a
/// probe never reads half a file. World-readable (0644, whatever the umask), directory created
/// (0755) when missing. A class: the loop holds it in an optional, and copying an optional struct
/// of strings goes through generic value witnesses (code the steady state otherwise never runs: `Footprint`, rule 5).
public final class AtomicFileWriter: Sendable {
    public let path: String
    private let temporary: String
    /// Both paths as C strings, made once: a Swift String passed to open(2) is copied into a new
    /// array on every call, code the steady loop otherwise never runs (`Footprint`, rule 5).
    private let pathC: ContiguousArray<CChar>
    private let temporaryC: ContiguousArray<CChar>

    public init(path: String) {
        self.path = path
        temporary = path + ".tmp.\(getpid())"
        pathC = path.utf8CString
        temporaryC = temporary.utf8CString
    }

    public var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    public func write(_ text: String) throws(Errno) {
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { buffer in Result { () throws(Errno) in try write(bytes: buffer) } }.get()
    }

    /// The directory is created only when it is missing (the open says ENOENT), not on every write.
    public func write(bytes: UnsafeRawBufferPointer) throws(Errno) {
        let result = temporaryC.withUnsafeBufferPointer { temporary in
            pathC.withUnsafeBufferPointer { path in
                Result { () throws(Errno) in try write(bytes: bytes, temporary: temporary.baseAddress!, path: path.baseAddress!) }
            }
        }
        try result.get()
    }

    private func write(bytes: UnsafeRawBufferPointer, temporary: UnsafePointer<CChar>, path: UnsafePointer<CChar>) throws(Errno) {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        } catch where error == .noEntry {
            try AtomicFileWriter.makeDirectories(directory)
            fd = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        }
        do {
            try fd.setMode(0o644)  // whatever the umask: probes run as any user
            try fd.writeAll(bytes)
            fd.close()
        } catch {
            fd.close()
            try? FileSystem.remove(temporary)  // best effort: the write's own error is the one to report
            throw error
        }
        do {
            try FileSystem.rename(temporary, to: path)
        } catch {
            try? FileSystem.remove(temporary)  // as above
            throw error
        }
    }

    /// mkdir -p with mode 0755.
    public static func makeDirectories(_ path: String) throws(Errno) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            do {
                try FileSystem.makeDirectory(current, mode: 0o755)
            } catch where error == .exists {
                continue
            }
        }
    }
}
