import Glibc

/// Users and groups from /etc/passwd and /etc/group text. A static binary has no NSS, and an image's
/// users live in those files anyway.
public struct UserDatabase: Sendable {
    public struct User: Equatable, Sendable {
        public var name: String
        public var uid: uid_t
        public var gid: gid_t
        public var home: String
    }

    public struct Group: Equatable, Sendable {
        public var name: String
        public var gid: gid_t
        public var members: [String]
    }

    public var users: [User]
    public var groups: [Group]

    public init(passwd: String, group: String) {
        users = passwd.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 7, let uid = uid_t(fields[2]), let gid = gid_t(fields[3]) else { return nil }
            return User(name: String(fields[0]), uid: uid, gid: gid, home: String(fields[5]))
        }
        groups = group.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4, let gid = gid_t(fields[2]) else { return nil }
            return Group(name: String(fields[0]), gid: gid, members: fields[3].split(separator: ",").map(String.init))
        }
    }

    public static func system(root: String = "") -> UserDatabase {
        UserDatabase(passwd: (try? FileDescriptor.readText(root + "/etc/passwd")) ?? "",
                     group: (try? FileDescriptor.readText(root + "/etc/group")) ?? "")
    }

    /// Resolves "user", "user:group", "1000", "1000:1000" (gosu's forms) to uid, gid, supplementary
    /// groups and home. A numeric user with no entry gets its own number as group and "/" as home.
    public func resolve(_ spec: String) -> (uid: uid_t, gid: gid_t, groups: [gid_t], home: String)? {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let userPart = parts.first, !userPart.isEmpty else { return nil }
        let user = users.first { $0.name == userPart } ?? uid_t(userPart).map { uid in
            users.first { $0.uid == uid } ?? User(name: userPart, uid: uid, gid: gid_t(uid), home: "/")
        }
        guard let user else { return nil }
        var gid = user.gid
        var supplementary = groups.filter { $0.members.contains(user.name) }.map(\.gid)
        if parts.count == 2 {
            guard let group = groups.first(where: { $0.name == parts[1] })?.gid ?? gid_t(parts[1]) else { return nil }
            gid = group
            supplementary = []
        }
        return (user.uid, gid, Array(Set([gid] + supplementary)).sorted(), user.home)
    }
}
