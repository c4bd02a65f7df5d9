import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import OAuthBroker

/// A response as the test client received it, with arrival times of its head and its last byte.
struct LoopbackResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var headArrival: ContinuousClock.Instant
    var endArrival: ContinuousClock.Instant

    /// The first header named `name` (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The body as a JSON object, or `nil` if it is not one.
    var json: [String: JSONValue]? { try? JSONDecoder().decode([String: JSONValue].self, from: Data(body)) }

    /// A string field of the JSON body.
    func string(_ name: String) -> String? {
        if case .string(let value)? = json?[name] { return value }
        return nil
    }
    /// An integer field of the JSON body.
    func integer(_ name: String) -> Int64? {
        if case .number(let value)? = json?[name], value == value.rounded() { return Int64(value) }
        return nil
    }
    /// A Boolean field of the JSON body.
    func bool(_ name: String) -> Bool? {
        if case .bool(let value)? = json?[name] { return value }
        return nil
    }

    /// Whether the JSON body has a field `name` (asserting on this never prints a token value).
    func has(_ name: String) -> Bool { json?[name] != nil }

    /// The RFC 6749 §5.2 `error`.
    var error: String? { string("error") }
    /// The body as UTF-8 text.
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why the client got no response.
enum LoopbackError: Error, Equatable {
    /// The server closed the connection before the response was complete.
    case connectionClosed
}

/// One HTTP/1.1 keep-alive connection to `127.0.0.1`, for sending several requests in sequence.
///
/// Built on NIO rather than on the curl transport under test elsewhere: it follows no redirects, enforces no
/// size limit and reports a dropped connection as ``LoopbackError/connectionClosed``, so the server's wire
/// behaviour is observed as it is.
struct LoopbackConnection: ~Copyable {
    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private let port: Int

    /// Opens a connection to `port`, runs `body` with it, and closes it.
    static func with<Result>(
        port: Int, _ body: (inout LoopbackConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = LoopbackConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound, port: port)
            return try await body(&connection)
        }
    }

    private init(
        inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>, port: Int
    ) {
        self.inbound = inbound
        self.outbound = outbound
        self.port = port
    }

    /// Sends one request and reads its response.
    /// - Throws: ``LoopbackError/connectionClosed`` when the server closes the connection first.
    mutating func send(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> LoopbackResponse {
        var response = try await sendReadingHead(method, target, headers: headers, body: body)
        response.body = try await readBody()
        response.endArrival = .now
        return response
    }

    /// Sends one request and reads only the response head; read the body with ``readBody()``.
    /// - Throws: ``LoopbackError/connectionClosed`` when the server closes the connection first.
    mutating func sendReadingHead(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> LoopbackResponse {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if method == .POST || !body.isEmpty { head.headers.add(name: "Content-Length", value: String(body.count)) }
        var parts: [HTTPClientRequestPart] = [.head(head)]
        if !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
        while let part = try await nextPart() {
            // Skip interim 1xx responses.
            guard case .head(let head) = part, head.status.code >= 200 else { continue }
            let now = ContinuousClock.now
            return LoopbackResponse(
                status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) }, body: [],
                headArrival: now, endArrival: now)
        }
        throw LoopbackError.connectionClosed
    }

    /// Reads the body of the response whose head was just read, up to its end.
    /// - Throws: ``LoopbackError/connectionClosed`` when the server closes the connection first.
    mutating func readBody() async throws -> [UInt8] {
        var body: [UInt8] = []
        while let part = try await nextPart() {
            switch part {
            case .head: throw LoopbackError.connectionClosed
            case .body(var buffer): body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end: return body
            }
        }
        throw LoopbackError.connectionClosed
    }

    /// The next response part; `nil` at EOF. NIO reports an EOF in the middle of a response as a parser error:
    /// that is a dropped connection too.
    private mutating func nextPart() async throws -> HTTPClientResponsePart? {
        do { return try await inbound.next() } catch { throw LoopbackError.connectionClosed }
    }

    /// Sends a form POST to `url`'s path.
    mutating func post(
        _ url: URL, form: [(String, String)], headers: [(String, String)] = []
    ) async throws -> LoopbackResponse {
        try await send(
            .POST, url.path, headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers,
            body: Array(FormEncoding.encode(form)))
    }

    /// Waits for the server to close the idle connection; returns `true` if it did, `false` if data arrived.
    mutating func waitForClose() async -> Bool {
        do { return try await inbound.next() == nil } catch { return true }
    }
}

/// One-shot requests, each on a new connection.
enum LoopbackHTTP {
    /// Sends a request to `url` on a new connection.
    static func send(
        _ method: HTTPMethod, _ url: URL, headers: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> LoopbackResponse {
        guard let port = url.port else { throw LoopbackError.connectionClosed }
        var target = url.path.isEmpty ? "/" : url.path
        if let query = url.query(percentEncoded: true) { target += "?" + query }
        let path = target
        return try await LoopbackConnection.with(port: port) { connection in
            try await connection.send(method, path, headers: headers, body: body)
        }
    }

    /// POSTs `form` to `url` on a new connection, with `client_secret_basic` credentials when given.
    static func post(
        _ url: URL, form: [(String, String)], basic: (id: String, secret: String)? = nil,
        headers: [(String, String)] = []
    ) async throws -> LoopbackResponse {
        var headers = [("Content-Type", "application/x-www-form-urlencoded")] + headers
        if let basic {
            headers.append(
                (
                    "Authorization",
                    FormEncoding.basicAuthorization(clientID: basic.id, clientSecret: Secret(basic.secret))
                ))
        }
        return try await send(.POST, url, headers: headers, body: Array(FormEncoding.encode(form)))
    }
}
