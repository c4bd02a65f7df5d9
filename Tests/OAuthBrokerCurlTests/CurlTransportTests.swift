import Foundation
import NIOHTTP1
import OAuthBroker
import OAuthBrokerCurl
import Testing

@Suite("CurlTransport over loopback HTTP", .timeLimit(.minutes(1)))
struct CurlTransportTests {
    @Test("a form POST arrives with its method, path, headers and exact body")
    func postArrivesIntact() async throws {
        // Over 1 MiB (where libcurl 7.88 would otherwise send `Expect: 100-continue`; older ones from 1 KiB), with
        // every byte value.
        let body = Data((0..<(1_536 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try await withServerAndTransport(handler: { _ in .init(status: 200, text: "ok") }) { server, transport in
            var request = TransportRequest(
                method: "POST", url: server.url("/token?tenant=a"),
                headers: [
                    "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                    "Authorization": "Basic Y2xpZW50OnNlY3JldA==", "X-Tenant": "tenant-a",
                ],
                body: body)
            request.headers.add(name: "X-Empty", value: "")
            let response = try await transport.send(request)
            #expect(response.status == 200)
            let received = try #require(server.requests.first)
            #expect(server.requests.count == 1)
            #expect(received.method == "POST")
            #expect(received.uri == "/token?tenant=a")
            #expect(received.body == Array(body))
            #expect(received.headers["Content-Type"] == ["application/x-www-form-urlencoded"])
            #expect(received.headers["Content-Length"] == ["\(body.count)"])
            #expect(received.headers["Authorization"] == ["Basic Y2xpZW50OnNlY3JldA=="])
            #expect(received.headers["X-Tenant"] == ["tenant-a"])
            #expect(received.headers["X-Empty"] == [""])
            #expect(received.headers["User-Agent"] == [CurlTransport.Configuration.defaultUserAgent])
            #expect(CurlTransport.Configuration.defaultUserAgent == "swift-oauth-broker/\(swiftOAuthBrokerVersion)")
            #expect(received.headers["Expect"].isEmpty)
        }
    }

    @Test("a configured User-Agent is sent, and a GET carries no body")
    func customUserAgentAndGet() async throws {
        var configuration = CurlTransport.Configuration()
        configuration.userAgent = "test-agent/1"
        try await withServerAndTransport(configuration: configuration, handler: { _ in .init(status: 204) }) {
            server, transport in
            let response = try await transport.send(TransportRequest(method: "GET", url: server.url("/jwks")))
            #expect(response.status == 204)
            let received = try #require(server.requests.first)
            #expect(received.method == "GET")
            #expect(received.body.isEmpty)
            #expect(received.headers["User-Agent"] == ["test-agent/1"])
        }
    }

    @Test("status, every header field and the body of the response come back")
    func responseReturned() async throws {
        let json = #"{"access_token":"at-1","token_type":"Bearer"}"#
        let handler: LoopbackHTTPServer.Handler = { _ in
            .init(
                status: 201,
                headers: [
                    ("Content-Type", "application/json; charset=utf-8"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                    ("X-Trace", "  padded  "),
                ],
                text: json)
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let response = try await transport.send(formPost(server.url("/token")))
            #expect(response.status == 201)
            #expect(String(decoding: response.body, as: UTF8.self) == json)
            #expect(response.headers["content-type"] == "application/json; charset=utf-8")
            #expect(response.headers.filter { $0.name.lowercased() == "set-cookie" }.map(\.value) == ["a=1", "b=2"])
            #expect(response.headers["X-Trace"] == "padded")
            #expect(response.headers["Content-Length"] == "\(json.utf8.count)")
        }
    }

    @Test("Retry-After of a 429 is available to the broker")
    func retryAfterAvailable() async throws {
        let handler: LoopbackHTTPServer.Handler = { _ in
            .init(status: 429, headers: [("Retry-After", "7"), ("Content-Type", "text/html")], text: "<h1>slow</h1>")
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let response = try await transport.send(formPost(server.url("/token")))
            #expect(response.status == 429)
            #expect(response.headers["Retry-After"] == "7")
            #expect(ResponseMetadata(response, now: Date()).retryAfter == .seconds(7))
        }
    }

    @Test("headers of an interim 1xx response are not mixed into the final response's")
    func interimHeadersDropped() async throws {
        let handler: LoopbackHTTPServer.Handler = { _ in
            .init(
                status: 200, headers: [("X-Final", "yes")], body: Array("ok".utf8),
                interim: [(103, [("Link", "</style.css>; rel=preload"), ("X-Interim", "yes")])])
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let response = try await transport.send(formPost(server.url("/token")))
            #expect(response.status == 200)
            #expect(response.headers["X-Final"] == "yes")
            #expect(response.headers["X-Interim"] == nil)
            #expect(response.headers["Link"] == nil)
            #expect(response.body == Data("ok".utf8))
        }
    }

    @Test("sequential requests reuse one keep-alive connection")
    func connectionReuse() async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200, text: "ok") }) { server, transport in
            for index in 0..<25 {
                let response = try await transport.send(formPost(server.url("/token"), body: "n=\(index)"))
                #expect(response.status == 200)
            }
            #expect(server.requests.count == 25)
            #expect(server.acceptedConnections == 1)
            #expect(Set(server.requests.map(\.connection)) == [1])
            #expect(transport.connectionsOpened == 1)
        }
    }

    @Test("64 concurrent requests all succeed, within the per-host connection limit")
    func concurrentRequests() async throws {
        var configuration = CurlTransport.Configuration()
        configuration.maximumConnectionsPerHost = 4
        let handler: LoopbackHTTPServer.Handler = { request in
            .init(status: 200, text: request.headers["X-Request-ID"].first ?? "missing")
        }
        try await withServerAndTransport(configuration: configuration, handler: handler) { server, transport in
            let echoes = try await withThrowingTaskGroup(of: (Int, Int, String).self) { group in
                for index in 0..<64 {
                    group.addTask {
                        var request = formPost(server.url("/token"), body: "n=\(index)")
                        request.headers.add(name: "X-Request-ID", value: "\(index)")
                        let response = try await transport.send(request)
                        return (index, response.status, String(decoding: response.body, as: UTF8.self))
                    }
                }
                var echoes: [(Int, Int, String)] = []
                for try await echo in group { echoes.append(echo) }
                return echoes
            }
            #expect(echoes.count == 64)
            #expect(echoes.allSatisfy { $0.1 == 200 && $0.2 == "\($0.0)" })
            #expect(server.requests.count == 64)
            #expect(server.acceptedConnections <= 4)
            #expect(transport.connectionsOpened == server.acceptedConnections)
        }
    }

    @Test("cancelling the task abandons the transfer promptly, and the transport keeps working")
    func cancellationMidRequest() async throws {
        let arrived = Signal()
        let handler: LoopbackHTTPServer.Handler = { request in
            if request.uri == "/slow" {
                arrived.raise()
                try? await Task.sleep(for: .seconds(3600))  // until the server shuts down
                return nil
            }
            return .init(status: 200, text: "fast")
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let task = Task { try await transport.send(formPost(server.url("/slow"))) }
            await arrived.wait()
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            // The easy handle was removed from the multi handle: libcurl closed the half-done connection.
            await server.waitForClosedConnections(1)
            #expect(server.closedConnections == 1)

            let response = try await transport.send(formPost(server.url("/fast")))
            #expect(response.status == 200)
            #expect(response.body == Data("fast".utf8))
            #expect(transport.connectionsOpened == 2)
        }
    }

    @Test("an already-cancelled task throws CancellationError without sending")
    func cancelledBeforeSending() async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200) }) { server, transport in
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await transport.send(formPost(server.url("/token")))
            }
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(server.requests.isEmpty)
            #expect(transport.connectionsOpened == 0)
        }
    }

    @Test("a 302 is returned as the response and its Location is not followed")
    func redirectNotFollowed() async throws {
        let handler: LoopbackHTTPServer.Handler = { request in
            request.uri == "/start"
                ? .init(status: 302, headers: [("Location", "/elsewhere")], text: "moved")
                : .init(status: 200, text: "followed")
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let response = try await transport.send(formPost(server.url("/start")))
            #expect(response.status == 302)
            #expect(response.headers["Location"] == "/elsewhere")
            #expect(server.requests.map(\.uri) == ["/start"])
        }
    }

    @Test(
        "a body over the limit is refused (.responseTooLarge), with or without Content-Length",
        arguments: [false, true])
    func oversizedBodyRefused(chunked: Bool) async throws {
        var configuration = CurlTransport.Configuration()
        configuration.maximumResponseBodyBytes = 64 * 1024
        let handler: LoopbackHTTPServer.Handler = { request in
            let size = request.uri == "/exact" ? 64 * 1024 : 200 * 1024
            return .init(status: 200, body: Array(repeating: UInt8(ascii: "x"), count: size), chunked: chunked)
        }
        try await withServerAndTransport(configuration: configuration, handler: handler) { server, transport in
            let request = formPost(server.url("/big"))
            let error = await thrownError { _ = try await transport.send(request) }
            let curlError = try #require(error as? CurlError)
            #expect(curlError.kind == .responseTooLarge)
            #expect(mappedCode(error, for: request) == .responseTooLarge)

            let exact = try await transport.send(formPost(server.url("/exact")))
            #expect(exact.body.count == 64 * 1024)
        }
    }

    @Test("a header value with a line break is refused before anything is sent")
    func headerInjectionRefused() async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200) }) { server, transport in
            let first = try await transport.send(formPost(server.url("/first")))
            #expect(first.status == 200)
            var request = formPost(server.url("/token"))
            request.headers.add(name: "X-Evil", value: "a\r\nInjected: yes")
            let error = await thrownError { _ = try await transport.send(request) }
            #expect((error as? CurlError)?.kind == .invalidRequest)
            #expect(mappedCode(error, for: request) == .invalidInput)
            var badMethod = formPost(server.url("/token"))
            badMethod.method = "PO ST"
            let methodError = await thrownError { _ = try await transport.send(badMethod) }
            #expect((methodError as? CurlError)?.kind == .invalidRequest)
            #expect(server.requests.map(\.uri) == ["/first"])
            // The refused requests reused the pooled handle; they add no connection to the count.
            #expect(transport.connectionsOpened == 1)
        }
    }

    @Test("shutdown fails the request in flight and every later one")
    func shutdownFailsRequests() async throws {
        let arrived = Signal()
        let handler: LoopbackHTTPServer.Handler = { _ in
            arrived.raise()
            try? await Task.sleep(for: .seconds(3600))
            return nil
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let request = formPost(server.url("/slow"))
            let task = Task { try await transport.send(request) }
            await arrived.wait()
            transport.shutdown()
            let inFlight = await task.result
            let inFlightError = await thrownError { _ = try inFlight.get() }
            #expect((inFlightError as? CurlError)?.kind == .shutDown)
            #expect(mappedCode(inFlightError, for: request) == .cancelled)
            await server.waitForClosedConnections(1)

            let later = await thrownError { _ = try await transport.send(request) }
            #expect((later as? CurlError)?.kind == .shutDown)
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test("an invalid configuration is rejected with .invalidConfiguration")
    func invalidConfigurationRejected() {
        var tooSmall = CurlTransport.Configuration()
        tooSmall.maximumResponseBodyBytes = 0
        #expect(throws: BrokerError.invalidConfiguration) { try CurlTransport(configuration: tooSmall) }

        var missingBundle = CurlTransport.Configuration()
        missingBundle.caBundlePath = "/nonexistent/ca.pem"
        #expect(throws: BrokerError.invalidConfiguration) { try CurlTransport(configuration: missingBundle) }

        var badAgent = CurlTransport.Configuration()
        badAgent.userAgent = "a\r\nX-Injected: 1"
        #expect(throws: BrokerError.invalidConfiguration) { try CurlTransport(configuration: badAgent) }

        var limits = CurlTransport.Configuration()
        limits.maximumConnections = 2
        limits.maximumConnectionsPerHost = 4
        #expect(throws: BrokerError.invalidConfiguration) { try CurlTransport(configuration: limits) }
    }

    @Test("libcurl's version is reported")
    func libcurlVersion() {
        #expect(CurlTransport.libcurlVersion.hasPrefix("libcurl/"))
    }
}
