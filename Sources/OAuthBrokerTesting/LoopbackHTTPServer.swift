package import Foundation
import NIOCore
package import NIOHTTP1
import NIOPosix
package import NIOSSL
import Synchronization

/// A scriptable HTTP/1.1 server on `127.0.0.1` and an ephemeral port, for testing the transport through real
/// sockets. Every request goes to `handler`; it returns the response, or `nil` to close the connection without one.
///
/// It counts accepted and closed connections and records every request, so tests can assert keep-alive reuse,
/// that a cancelled transfer's connection was closed, and that a redirect was not followed. With a TLS context it
/// speaks HTTPS (``url(_:)`` then starts with `https://`).
package final class LoopbackHTTPServer: Sendable {
    package struct Request: Sendable {
        package var method: String
        package var uri: String
        package var headers: HTTPHeaders
        package var body: [UInt8]
        /// 1 for the first accepted connection, 2 for the second, …
        package var connection: Int
    }

    package struct Response: Sendable {
        package var status: Int
        package var headers: [(String, String)] = []
        package var body: [UInt8] = []
        /// Send the body with chunked transfer encoding (no `Content-Length`).
        package var chunked = false
        /// Informational (1xx) responses sent before this one.
        package var interim: [(Int, [(String, String)])] = []

        package init(
            status: Int, headers: [(String, String)] = [], body: [UInt8] = [], chunked: Bool = false,
            interim: [(Int, [(String, String)])] = []
        ) {
            self.status = status
            self.headers = headers
            self.body = body
            self.chunked = chunked
            self.interim = interim
        }

        package init(status: Int, headers: [(String, String)] = [], text: String) {
            self.init(status: status, headers: headers, body: Array(text.utf8))
        }
    }

    package typealias Handler = @Sendable (Request) async -> Response?
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    package let port: Int
    private let scheme: String
    private let serverChannel: any Channel
    private let serveTask: Task<Void, Never>
    private let accepted: EventCounter
    private let closed: EventCounter
    private let log: RequestLog

    private init(
        port: Int, scheme: String, serverChannel: any Channel, serveTask: Task<Void, Never>, accepted: EventCounter,
        closed: EventCounter, log: RequestLog
    ) {
        self.port = port
        self.scheme = scheme
        self.serverChannel = serverChannel
        self.serveTask = serveTask
        self.accepted = accepted
        self.closed = closed
        self.log = log
    }

    /// `http://127.0.0.1:<port>` (or `https://…` for a TLS server) followed by `path`.
    package func url(_ path: String = "/") -> URL { URL(string: "\(scheme)://127.0.0.1:\(port)\(path)")! }

    /// Connections accepted so far.
    package var acceptedConnections: Int { accepted.value }
    /// Connections closed so far (by either side).
    package var closedConnections: Int { closed.value }
    /// Every request received, in order.
    package var requests: [Request] { log.requests }

    /// Waits until at least `count` connections have been closed.
    package func waitForClosedConnections(_ count: Int) async { await closed.wait(atLeast: count) }

    /// Starts a server.
    /// - Parameters:
    ///   - tls: A server TLS context: the server then speaks HTTPS only.
    ///   - handler: Answers every request.
    package static func start(tls: NIOSSLContext? = nil, handler: @escaping Handler) async throws
        -> LoopbackHTTPServer
    {
        let accepted = EventCounter()
        let closed = EventCounter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = accepted.increment()
                    channel.closeFuture.whenComplete { _ in _ = closed.increment() }
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return (number, try Connection(wrappingChannelSynchronously: channel))
                }
            }
        let port = channel.channel.localAddress?.port ?? 0
        let log = RequestLog()
        let task = Task<Void, Never> {
            _ = try? await channel.executeThenClose { inbound in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await (number, connection) in inbound {
                            group.addTask { await serve(connection, number: number, handler: handler, log: log) }
                        }
                    } catch {}
                }
            }
        }
        let server = LoopbackHTTPServer(
            port: port, scheme: tls == nil ? "http" : "https", serverChannel: channel.channel, serveTask: task,
            accepted: accepted, closed: closed, log: log)
        return server
    }

    /// Stops accepting, cancels running handlers and closes every connection.
    package func shutdown() async {
        serveTask.cancel()
        try? await serverChannel.close()
        await serveTask.value
    }

    private static func serve(_ connection: Connection, number: Int, handler: Handler, log: RequestLog) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body = []
                case .body(let buffer):
                    body += buffer.readableBytesView
                case .end:
                    guard let requestHead = head else { continue }
                    let request = Request(
                        method: requestHead.method.rawValue, uri: requestHead.uri, headers: requestHead.headers,
                        body: body, connection: number)
                    log.append(request)
                    guard let response = await handler(request) else { return }
                    try await outbound.write(contentsOf: parts(of: response))
                }
            }
        }
    }

    private static func parts(of response: Response) -> [HTTPServerResponsePart] {
        var parts: [HTTPServerResponsePart] = response.interim.map { status, fields in
            .head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: HTTPHeaders(fields)))
        }
        var headers = HTTPHeaders(response.headers)
        if !response.chunked { headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)") }
        parts.append(
            .head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: response.status), headers: headers)))
        if !response.body.isEmpty {
            if response.chunked {
                // Several chunks, so the client cannot know the length in advance.
                for slice in response.body.chunks(of: 16 * 1024) {
                    parts.append(.body(.byteBuffer(ByteBuffer(bytes: slice))))
                }
            } else {
                parts.append(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
            }
        }
        parts.append(.end(nil))
        return parts
    }
}

/// The requests a server received.
private final class RequestLog: Sendable {
    private let entries = Mutex<[LoopbackHTTPServer.Request]>([])
    var requests: [LoopbackHTTPServer.Request] { entries.withLock { $0 } }
    func append(_ request: LoopbackHTTPServer.Request) { entries.withLock { $0.append(request) } }
}

/// A counter whose value can be awaited.
package final class EventCounter: Sendable {
    private struct State {
        var value = 0
        var waiters: [(Int, CheckedContinuation<Void, Never>)] = []
    }
    private let state = Mutex(State())

    /// Creates a counter at zero.
    package init() {}

    /// The current value.
    package var value: Int { state.withLock { $0.value } }

    /// Adds one and returns the new value.
    @discardableResult
    package func increment() -> Int {
        let (value, ready) = state.withLock { state -> (Int, [CheckedContinuation<Void, Never>]) in
            state.value += 1
            let value = state.value
            let ready = state.waiters.filter { $0.0 <= value }.map(\.1)
            state.waiters.removeAll { $0.0 <= value }
            return (value, ready)
        }
        for continuation in ready { continuation.resume() }
        return value
    }

    /// Returns once the value is at least `target`.
    package func wait(atLeast target: Int) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                if state.value >= target { return true }
                state.waiters.append((target, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

extension Array {
    fileprivate func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}

/// A one-shot signal a server handler raises and a test awaits.
package final class Signal: Sendable {
    private let counter = EventCounter()
    /// Creates a signal.
    package init() {}
    /// Raises the signal (again: no effect on waiters already released).
    package func raise() { counter.increment() }
    /// Returns once the signal was raised.
    package func wait() async { await counter.wait(atLeast: 1) }
}
