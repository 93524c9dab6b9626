import Glibc

/// A file descriptor owned by whoever holds it; thin wrappers over the calls Lifeguard needs.
/// Every descriptor Lifeguard opens is close-on-exec, so the supervised command never inherits one.
public struct FileDescriptor: Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: STDIN_FILENO)
    public static let standardOutput = FileDescriptor(rawValue: STDOUT_FILENO)
    public static let standardError = FileDescriptor(rawValue: STDERR_FILENO)

    /// `open(path, flags | O_CLOEXEC, mode)`.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(Errno) -> FileDescriptor {
        let fd = try retryingInterrupts { path.withCString { system_open($0, flags | O_CLOEXEC, mode) } }
        return FileDescriptor(rawValue: fd)
    }

    /// `open(path, flags | O_CLOEXEC, mode)` with a C string made once by the caller.
    public static func open(_ path: UnsafePointer<CChar>, _ flags: Int32, mode: mode_t = 0) throws(Errno) -> FileDescriptor {
        let fd = try retryingInterrupts { system_open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    /// `openat(directory, path, flags | O_CLOEXEC, mode)`.
    public static func open(
        _ path: String, relativeTo directory: FileDescriptor, _ flags: Int32, mode: mode_t = 0
    ) throws(Errno) -> FileDescriptor {
        let fd = try retryingInterrupts { path.withCString { system_openat(directory.rawValue, $0, flags | O_CLOEXEC, mode) } }
        return FileDescriptor(rawValue: fd)
    }

    public func close() {
        // Linux releases the descriptor even when close reports an error (EINTR, EIO from a network
        // filesystem): there is nothing to retry and nothing a caller could do, so the result goes.
        _ = system_close(rawValue)
    }

    /// One `read(2)` into `buffer`; returns the byte count (0 at end of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retryingInterrupts { system_read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// One `pread(2)` at `offset`: how cgroup files are sampled without seeking or reopening.
    public func read(fromAbsoluteOffset offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retryingInterrupts { system_pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// One `write(2)`: how many bytes went (a non-blocking socket may take fewer, or none: EAGAIN).
    public func write(some bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try retryingInterrupts { system_write(rawValue, bytes.baseAddress, bytes.count) }
    }

    /// Writes all of `bytes`, looping over short writes.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let remaining = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let written = try retryingInterrupts { system_write(rawValue, remaining.baseAddress, remaining.count) }
            if written == 0 { throw Errno(rawValue: EIO) }
            offset += written
        }
    }

    public func writeAll(_ text: String) throws(Errno) {
        var text = text
        try text.withUTF8 { utf8 in
            Result { () throws(Errno) in try writeAll(UnsafeRawBufferPointer(utf8)) }
        }.get()
    }
}

extension FileDescriptor {
    /// Reads a whole (small) file: status files, /proc entries, cgroup files in tests and discovery.
    /// Not for the sampling path, which reuses a preallocated buffer.
    public static func readFile(_ path: String, limit: Int = 1 << 20) throws(Errno) -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = try chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(Errno) in try fd.read(into: buffer) }
            }.get()
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    /// `readFile` as UTF-8 text (invalid bytes are repaired).
    public static func readText(_ path: String, limit: Int = 1 << 20) throws(Errno) -> String {
        String(decoding: try readFile(path, limit: limit), as: UTF8.self)
    }
}
