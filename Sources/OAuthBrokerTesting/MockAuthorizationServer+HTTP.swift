import NIOCore
import NIOHTTP1

/// Turns HTTP/1.1 request parts into ``MockHTTPRequest``s, asks the engine, and writes the answer.
///
/// One instance per connection, confined to the connection's event loop. Responses are written as head, body and
/// end followed by a single flush, which NIO sends with one `writev`; with `TCP_NODELAY` set on the socket a
/// keep-alive client is never held up by Nagle's algorithm and delayed ACKs.
final class MockHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let engine: MockServerEngine
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    private var isActive = true

    init(engine: MockServerEngine) {
        self.engine = engine
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            bodyTooLarge = false
        case .body(var buffer):
            if body.count + buffer.readableBytes > engine.configuration.maximumRequestBodySize {
                bodyTooLarge = true
            } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body += bytes
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let request = MockHTTPRequest(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                body: body)
            body = []
            if bodyTooLarge {
                let response = MockServerEngine.page(413, "Content Too Large", "The request body is too large.")
                write(response, keepAlive: false, bodyDelay: nil, context: context)
                return
            }
            handle(request, keepAlive: head.isKeepAlive, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func handle(_ request: MockHTTPRequest, keepAlive: Bool, context: ChannelHandlerContext) {
        let plan = engine.receive(request)
        let run = {
            guard self.isActive else { return }
            switch self.engine.respond(to: request, plan: plan) {
            case .drop:
                context.close(promise: nil)
            case .respond(let response, let bodyDelay):
                self.write(response, keepAlive: keepAlive, bodyDelay: bodyDelay, context: context)
            }
        }
        if plan.delay > .zero {
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(plan.delay)) { run() }
        } else {
            run()
        }
    }

    private func write(
        _ response: MockHTTPResponse, keepAlive: Bool, bodyDelay: Duration?, context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        for (name, value) in response.headers where name.lowercased() != "content-length" {
            headers.add(name: name, value: value)
        }
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        let channel = context.channel
        let finish = { [self] in
            guard self.isActive else { return }
            if buffer.readableBytes > 0 {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            let done = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
            if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
        }
        if let bodyDelay {
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(bodyDelay)) { finish() }
        } else {
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            finish()
        }
    }
}
