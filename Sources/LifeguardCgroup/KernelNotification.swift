import Glibc
import LifeguardSystem

/// A cgroup v1 eventfd notification: the kernel writes to the eventfd when memory usage crosses a
/// threshold (`memory.usage_in_bytes`), or when the cgroup goes out of memory (`memory.oom_control`).
///
/// Arming needs write access to `cgroup.event_control`, which an unprivileged container does not have
/// (cgroupfs is mounted read-only): there the initializer throws and the adaptive poll alone keeps watch.
public final class CgroupEventNotification {
    public let descriptor: FileDescriptor
    private let watched: FileDescriptor

    /// Registers `eventfd <watched fd> [argument]` with the cgroup's `cgroup.event_control`.
    public init(directory: String, watching file: String, argument: String?) throws(Errno) {
        descriptor = try FileDescriptor.event()
        do {
            watched = try FileDescriptor.open(directory + "/" + file, O_RDONLY)
        } catch {
            descriptor.close()
            throw error
        }
        do {
            let control = try FileDescriptor.open(directory + "/cgroup.event_control", O_WRONLY)
            defer { control.close() }
            var line = "\(descriptor.rawValue) \(watched.rawValue)"
            if let argument { line += " \(argument)" }
            try control.writeAll(line)
        } catch {
            descriptor.close()
            watched.close()
            throw error
        }
    }

    /// Closing the eventfd unregisters the notification in the kernel.
    deinit {
        descriptor.close()
        watched.close()
    }

    /// Consumes the pending notification count.
    public func drain() {
        var count: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &count) { try? descriptor.read(into: $0) }
    }
}
