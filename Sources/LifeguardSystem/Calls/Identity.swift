import CLifeguard
import Glibc

/// Changing who this process is, then becoming another program: what `lifeguard run-as` does.
public enum Identity {
    /// setgroups(2), setgid(2), setuid(2), in that order (groups first: after setuid they cannot change).
    /// `groups` nil leaves the supplementary groups alone (only root may set them).
    public static func become(userID: uid_t, groupID: gid_t, groups: [gid_t]?) throws(Errno) {
        if let groups {
            let count = groups.count
            try valueOrErrno(groups.withUnsafeBufferPointer { setgroups(count, $0.baseAddress) })
        }
        try valueOrErrno(setgid(groupID))
        try valueOrErrno(setuid(userID))
    }

    /// setenv(3), replacing any value.
    public static func setEnvironment(_ name: String, _ value: String) throws(Errno) {
        try valueOrErrno(setenv(name, value, 1))
    }

    /// execvp(3): returns only when it failed, with why.
    public static func execute(_ command: [String]) -> Errno {
        let argv = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        execvp(command[0], argv)
        return .current
    }

    /// Runs `body` with the calling thread's effective user ID set to `userID`, then sets it back: a
    /// unix socket connected meanwhile carries `userID` as its peer (SO_PEERCRED), which is how the
    /// server's unix_socket/auth_socket plugin knows who connects. Needs CAP_SETUID (root).
    public static func asThreadEffectiveUser<Value>(_ userID: uid_t, _ body: () throws(Errno) -> Value) throws(Errno) -> Value {
        let original = geteuid()
        try valueOrErrno(lg_thread_set_euid(userID))
        defer {
            // Back to root cannot fail for a thread whose real and saved IDs are still root.
            _ = lg_thread_set_euid(original)
        }
        return try body()
    }
}
