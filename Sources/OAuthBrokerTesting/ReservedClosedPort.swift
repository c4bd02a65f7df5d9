public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback TCP port that refuses every connection and that no other socket can take while this value lives.
///
/// It is a socket bound to `127.0.0.1:0` that never listens: a connection attempt gets a reset at once
/// (`ECONNREFUSED`). Tests of "the server is down" use it instead of a server they start and stop, whose freed
/// ephemeral port another test running in parallel may bind (and then answer, or never answer) in the meantime.
public final class ReservedClosedPort: Sendable {
    /// The port number.
    public let port: Int
    private let descriptor: Int32

    /// Binds a new socket to an ephemeral loopback port.
    /// - Throws: `POSIXError` when no socket can be made or bound.
    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }

    /// `http://127.0.0.1:<port><path>`.
    /// - Parameter path: The path, starting with `/`.
    public func url(_ path: String = "/") -> URL {
        URL(string: "http://127.0.0.1:\(port)\(path)")!
    }
}
