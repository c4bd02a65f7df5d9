import Foundation
import OAuthBroker

extension TransportConformance {
    func body(of check: TransportConformanceCheck) async throws {
        guard let name = TransportCheckName(rawValue: check.name) else {
            throw Mismatch(message: "no such check", line: #line)
        }
        switch name {
        case .postArrivesIntact: try await postArrivesIntact()
        case .userAgentAndGet: try await userAgentAndGet()
        case .responseReturned: try await responseReturned()
        case .retryAfter: try await retryAfter()
        case .interimHeadersDropped: try await interimHeadersDropped()
        case .connectionReuse: try await connectionReuse()
        case .concurrentRequests: try await concurrentRequests()
        case .queuedRequestWaitsForItsDeadline: try await queuedRequestWaitsForItsDeadline()
        case .cancellationMidRequest: try await cancellationMidRequest()
        case .cancelledBeforeSending: try await cancelledBeforeSending()
        case .redirectNotFollowed: try await redirectNotFollowed()
        case .oversizedBody: try await oversizedBody(chunked: false)
        case .oversizedChunkedBody: try await oversizedBody(chunked: true)
        case .headerInjectionRefused: try await headerInjectionRefused()
        case .shutdownFailsRequests: try await shutdownFailsRequests()
        case .timeout: try await timeout()
        case .connectionRefused: try await connectionRefused()
        case .tlsToPlainServer: try await tlsToPlainServer()
        case .tlsTrustedCA: try await tls(trusted: true, names: ["localhost"], ips: ["127.0.0.1"], succeeds: true)
        case .tlsUntrustedCA: try await tls(trusted: false, names: ["localhost"], ips: ["127.0.0.1"], succeeds: false)
        case .tlsWrongName: try await tls(trusted: true, names: ["other.example"], ips: [], succeeds: false)
        case .brokerReusesConnection: try await brokerReusesConnection()
        case .brokerRetryAfter: try await brokerRetryAfter()
        case .brokerRedirectRefused: try await brokerRedirectRefused()
        case .brokerFaults: try await brokerFaults()
        case .brokerConnectionRefused: try await brokerConnectionRefused()
        case .brokerTimeout: try await brokerTimeout()
        case .brokerCancellation: try await brokerCancellation()
        }
    }

    // MARK: - Requests and responses

    func postArrivesIntact() async throws {
        // Over 1 MiB (where libcurl would otherwise send `Expect: 100-continue`), with every byte value.
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
            try expect(response.status == 200, "status \(response.status)")
            let received = try require(server.requests.first, "no request arrived")
            try expect(server.requests.count == 1, "\(server.requests.count) requests arrived")
            try expect(received.method == "POST", "method \(received.method)")
            try expect(received.uri == "/token?tenant=a", "uri \(received.uri)")
            try expect(received.body == Array(body), "the body differs (\(received.body.count) bytes)")
            try expect(
                received.headers["Content-Type"] == ["application/x-www-form-urlencoded"], "Content-Type differs")
            try expect(received.headers["Content-Length"] == ["\(body.count)"], "Content-Length differs")
            try expect(received.headers["Authorization"] == ["Basic Y2xpZW50OnNlY3JldA=="], "Authorization differs")
            try expect(received.headers["X-Tenant"] == ["tenant-a"], "X-Tenant differs")
            try expect(received.headers["X-Empty"] == [""], "X-Empty: \(received.headers["X-Empty"])")
            try expect(
                received.headers["User-Agent"].first?.hasPrefix("swift-oauth-broker/") == true,
                "User-Agent \(received.headers["User-Agent"])")
            try expect(received.headers["Expect"].isEmpty, "Expect was sent")
        }
    }

    func userAgentAndGet() async throws {
        var settings = Settings()
        settings.userAgent = "test-agent/1"
        try await withServerAndTransport(settings, handler: { _ in .init(status: 204) }) { server, transport in
            let response = try await transport.send(TransportRequest(method: "GET", url: server.url("/jwks")))
            try expect(response.status == 204, "status \(response.status)")
            let received = try require(server.requests.first, "no request arrived")
            try expect(received.method == "GET", "method \(received.method)")
            try expect(received.body.isEmpty, "a GET carried \(received.body.count) body bytes")
            try expect(
                received.headers["User-Agent"] == ["test-agent/1"], "User-Agent \(received.headers["User-Agent"])")
        }
    }

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
            try expect(response.status == 201, "status \(response.status)")
            try expect(String(decoding: response.body, as: UTF8.self) == json, "the body differs")
            try expect(response.headers["content-type"] == "application/json; charset=utf-8", "Content-Type differs")
            let cookies = response.headers.filter { $0.name.lowercased() == "set-cookie" }.map(\.value)
            try expect(cookies == ["a=1", "b=2"], "Set-Cookie fields: \(cookies)")
            try expect(
                response.headers["X-Trace"]?.trimmingCharacters(in: .whitespaces) == "padded",
                "X-Trace \(String(describing: response.headers["X-Trace"]))")
            try expect(response.headers["Content-Length"] == "\(json.utf8.count)", "Content-Length differs")
        }
    }

    func retryAfter() async throws {
        let handler: LoopbackHTTPServer.Handler = { _ in
            .init(status: 429, headers: [("Retry-After", "7"), ("Content-Type", "text/html")], text: "<h1>slow</h1>")
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let response = try await transport.send(formPost(server.url("/token")))
            try expect(response.status == 429, "status \(response.status)")
            try expect(response.headers["Retry-After"] == "7", "Retry-After differs")
            try expect(ResponseMetadata(response, now: Date()).retryAfter == .seconds(7), "Retry-After not parsed")
        }
    }

    func interimHeadersDropped() async throws {
        let handler: LoopbackHTTPServer.Handler = { _ in
            .init(
                status: 200, headers: [("X-Final", "yes")], body: Array("ok".utf8),
                interim: [(103, [("Link", "</style.css>; rel=preload"), ("X-Interim", "yes")])])
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let response = try await transport.send(formPost(server.url("/token")))
            try expect(response.status == 200, "status \(response.status)")
            try expect(response.headers["X-Final"] == "yes", "X-Final missing")
            try expect(response.headers["X-Interim"] == nil, "X-Interim leaked into the final response")
            try expect(response.headers["Link"] == nil, "Link leaked into the final response")
            try expect(response.body == Data("ok".utf8), "the body differs")
        }
    }

    func connectionReuse() async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200, text: "ok") }) { server, transport in
            for index in 0..<25 {
                let response = try await transport.send(formPost(server.url("/token"), body: "n=\(index)"))
                try expect(response.status == 200, "status \(response.status)")
            }
            try expect(server.requests.count == 25, "\(server.requests.count) requests")
            try expect(server.acceptedConnections == 1, "\(server.acceptedConnections) connections accepted")
            try expect(Set(server.requests.map(\.connection)) == [1], "requests spread over connections")
            try expectConnectionsOpened(transport, { $0 == 1 }, "not one connection")
        }
    }

    func concurrentRequests() async throws {
        var settings = Settings()
        settings.maximumConnectionsPerHost = 4
        let handler: LoopbackHTTPServer.Handler = { request in
            .init(status: 200, text: request.headers["X-Request-ID"].first ?? "missing")
        }
        try await withServerAndTransport(settings, handler: handler) { server, transport in
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
            try expect(echoes.count == 64, "\(echoes.count) answers")
            try expect(echoes.allSatisfy { $0.1 == 200 && $0.2 == "\($0.0)" }, "an answer went to the wrong request")
            try expect(server.requests.count == 64, "\(server.requests.count) requests")
            try expect(server.acceptedConnections <= 4, "\(server.acceptedConnections) connections, limit 4")
            let accepted = server.acceptedConnections
            try expectConnectionsOpened(
                transport, { $0 == accepted }, "the count differs from the server's \(accepted)")
        }
    }

    /// One connection per host and a first answer that takes three connect timeouts: the second request waits for
    /// that connection longer than the connect timeout, and well inside its own request timeout, so it must succeed.
    func queuedRequestWaitsForItsDeadline() async throws {
        var settings = Settings()
        settings.maximumConnectionsPerHost = 1
        settings.connectTimeout = .milliseconds(400)
        settings.requestTimeout = .seconds(30)
        let handler: LoopbackHTTPServer.Handler = { request in
            if request.uri == "/slow" { try? await Task.sleep(for: .milliseconds(1_200)) }
            return .init(status: 200, text: request.uri)
        }
        try await withServerAndTransport(settings, handler: handler) { server, transport in
            let slow = Task { try await transport.send(formPost(server.url("/slow"), body: "n=1")) }
            try expect(await eventually { server.requests.count >= 1 }, "the slow request did not arrive")
            let queued = try await transport.send(formPost(server.url("/queued"), body: "n=2"))
            let first = try await slow.value
            try expect(first.status == 200 && queued.status == 200, "statuses \(first.status), \(queued.status)")
            try expect(String(decoding: queued.body, as: UTF8.self) == "/queued", "the queued answer was wrong")
            try expect(server.acceptedConnections == 1, "\(server.acceptedConnections) connections, limit 1")
        }
    }

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
            let error = await thrownError { _ = try result.get() }
            try expect(error is CancellationError, "threw \(String(describing: error))")
            // The half-done request's connection was closed.
            await server.waitForClosedConnections(1)
            try expect(server.closedConnections == 1, "\(server.closedConnections) connections closed")

            let response = try await transport.send(formPost(server.url("/fast")))
            try expect(response.status == 200 && response.body == Data("fast".utf8), "the next request failed")
            try expectConnectionsOpened(transport, { $0 == 2 }, "expected a second connection")
        }
    }

    func cancelledBeforeSending() async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200) }) { server, transport in
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await transport.send(formPost(server.url("/token")))
            }
            let result = await task.result
            let error = await thrownError { _ = try result.get() }
            try expect(error is CancellationError, "threw \(String(describing: error))")
            try expect(server.requests.isEmpty, "a request was sent")
            try expectConnectionsOpened(transport, { $0 == 0 }, "a connection was opened")
        }
    }

    func redirectNotFollowed() async throws {
        let handler: LoopbackHTTPServer.Handler = { request in
            request.uri == "/start"
                ? .init(status: 302, headers: [("Location", "/elsewhere")], text: "moved")
                : .init(status: 200, text: "followed")
        }
        try await withServerAndTransport(handler: handler) { server, transport in
            let response = try await transport.send(formPost(server.url("/start")))
            try expect(response.status == 302, "status \(response.status)")
            try expect(response.headers["Location"] == "/elsewhere", "Location differs")
            try expect(server.requests.map(\.uri) == ["/start"], "requests: \(server.requests.map(\.uri))")
        }
    }

    func oversizedBody(chunked: Bool) async throws {
        var settings = Settings()
        settings.maximumResponseBodyBytes = 64 * 1024
        let handler: LoopbackHTTPServer.Handler = { request in
            let size = request.uri == "/exact" ? 64 * 1024 : 200 * 1024
            return .init(status: 200, body: Array(repeating: UInt8(ascii: "x"), count: size), chunked: chunked)
        }
        try await withServerAndTransport(settings, handler: handler) { server, transport in
            let request = formPost(server.url("/big"))
            let error = await thrownError { _ = try await transport.send(request) }
            try expect(
                mappedCode(error, for: request) == .responseTooLarge, "mapped to \(String(describing: error))")
            let exact = try await transport.send(formPost(server.url("/exact")))
            try expect(exact.body.count == 64 * 1024, "a body at the limit came back with \(exact.body.count) bytes")
        }
    }

    func headerInjectionRefused() async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200) }) { server, transport in
            let first = try await transport.send(formPost(server.url("/first")))
            try expect(first.status == 200, "status \(first.status)")
            var request = formPost(server.url("/token"))
            request.headers.add(name: "X-Evil", value: "a\r\nInjected: yes")
            let error = await thrownError { _ = try await transport.send(request) }
            try expect(mappedCode(error, for: request) == .invalidInput, "CR/LF: \(String(describing: error))")
            var badName = formPost(server.url("/token"))
            badName.headers.add(name: "X Evil", value: "1")
            let nameError = await thrownError { _ = try await transport.send(badName) }
            try expect(mappedCode(nameError, for: badName) == .invalidInput, "name: \(String(describing: nameError))")
            var badMethod = formPost(server.url("/token"))
            badMethod.method = "PO ST"
            let methodError = await thrownError { _ = try await transport.send(badMethod) }
            try expect(
                mappedCode(methodError, for: badMethod) == .invalidInput, "method: \(String(describing: methodError))")
            try expect(server.requests.map(\.uri) == ["/first"], "requests: \(server.requests.map(\.uri))")
            try expectConnectionsOpened(transport, { $0 == 1 }, "the refused requests opened connections")
        }
    }

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
            await shutdown(transport)
            let inFlight = await task.result
            let inFlightError = await thrownError { _ = try inFlight.get() }
            try expect(
                mappedCode(inFlightError, for: request) == .cancelled, "in flight: \(String(describing: inFlightError))"
            )
            await server.waitForClosedConnections(1)
            let later = await thrownError { _ = try await transport.send(request) }
            try expect(mappedCode(later, for: request) == .cancelled, "later: \(String(describing: later))")
            try expect(server.acceptedConnections == 1, "\(server.acceptedConnections) connections")
        }
    }

    func timeout() async throws {
        var settings = Settings()
        // Generous enough that a loaded machine's server has read each request before the client gives up.
        settings.requestTimeout = .seconds(3)
        let silent: LoopbackHTTPServer.Handler = { _ in
            try? await Task.sleep(for: .seconds(3600))
            return nil
        }
        try await withServerAndTransport(settings, handler: silent) { server, transport in
            for request in [formPost(server.url("/token")), formPost(server.url("/token"), timeout: .seconds(2))] {
                let error = await thrownError { _ = try await transport.send(request) }
                try expect(mappedCode(error, for: request) == .timedOut, "threw \(String(describing: error))")
            }
            try expect(server.requests.count == 2, "\(server.requests.count) requests")
        }
    }

    func connectionRefused() async throws {
        // A port that refuses connections and that no parallel test can take meanwhile.
        let closed = try ReservedClosedPort()
        let transport = try makeTransport(Settings())
        let request = formPost(closed.url("/token"))
        let error = await thrownError { _ = try await transport.send(request) }
        await shutdown(transport)
        let mapped = try require(error.map { errorMapper.mapTransportError($0, for: request) }, "no error")
        try expect(mapped.code == .connectionFailed, "mapped to \(mapped)")
        try expect(mapped.isTransient, "not transient")
        try expect(mapped.message.contains("127.0.0.1"), "the host is not named: \(mapped.message)")
        try expect(!mapped.message.contains("/token"), "the path is named: \(mapped.message)")
        withExtendedLifetime(closed) {}
    }

    // MARK: - TLS

    func tlsToPlainServer() async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200) }) { server, transport in
            let request = formPost(URL(string: "https://127.0.0.1:\(server.port)/token")!)
            let error = await thrownError { _ = try await transport.send(request) }
            try expect(mappedCode(error, for: request) == .tlsFailure, "threw \(String(describing: error))")
        }
    }

    func tls(trusted: Bool, names: [String], ips: [String], succeeds: Bool) async throws {
        let serverCA = try TestCertificateAuthority()
        // The CA the client trusts: the server's, or another one made the same way.
        let trustedCA = trusted ? serverCA : try TestCertificateAuthority(name: "another test CA")
        try await withTemporaryDirectory(prefix: "oauth-broker-tls") { directory in
            var settings = Settings()
            settings.caBundlePath = try trustedCA.writeBundle(in: directory)
            let tls = TLSServer(authority: serverCA, dnsNames: names, ipAddresses: ips)
            try await withServerAndTransport(
                settings, tls: tls, handler: { _ in .init(status: 200, text: "secure") }
            ) { server, transport in
                let request = formPost(server.url("/token"))
                try expect(request.url.scheme == "https", "not an https URL")
                if succeeds {
                    let response = try await transport.send(request)
                    try expect(response.status == 200 && response.body == Data("secure".utf8), "wrong response")
                    try expect(server.requests.count == 1, "\(server.requests.count) requests")
                } else {
                    let error = await thrownError { _ = try await transport.send(request) }
                    try expect(mappedCode(error, for: request) == .tlsFailure, "threw \(String(describing: error))")
                    try expect(server.requests.isEmpty, "a request reached the server")
                }
            }
        }
    }
}
