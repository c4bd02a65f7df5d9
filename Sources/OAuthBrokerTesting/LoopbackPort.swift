#if canImport(Glibc)
    import Glibc
#endif

/// Loopback port helpers for tests that start a server process of their own (a throwaway `redis-server`).
public enum LoopbackPort {
    /// A loopback port that was free a moment ago: bound to `127.0.0.1:0`, read, and released.
    ///
    /// Another process may take it before the caller's server binds it; callers that can, retry on a bind failure.
    /// For a port that must stay closed, use ``ReservedClosedPort``.
    /// - Throws: `POSIXError` when no socket can be made or bound.
    public static func unused() throws -> Int { try ReservedClosedPort().port }

    /// Whether something accepts TCP connections on `127.0.0.1:port` right now.
    /// - Parameter port: The port.
    /// - Returns: `true` when a connection succeeds (it is closed at once).
    public static func acceptsConnections(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
