import Glibc

/// Sends one sd_notify datagram to NOTIFY_SOCKET (a path; "@" for abstract names).
func sendNotify(_ message: String) {
    guard let target = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }) else { fail("NOTIFY_SOCKET is not set") }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let path = Array(target.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.prefix(raw.count - 1).enumerated() { raw[index] = index == 0 && byte == UInt8(ascii: "@") ? 0 : byte }
    }
    let sent = message.withCString { text in
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, text, strlen(text), 0, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
    if sent < 0 { fail("sendto \(target): \(String(cString: strerror(errno)))") }
    close(fd)
}
