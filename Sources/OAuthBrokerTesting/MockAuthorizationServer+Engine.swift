import Foundation
import OAuthBroker
import Synchronization

/// A request as the HTTP layer hands it to the engine.
struct MockHTTPRequest: Sendable {
    var method: String
    /// The request target as sent (path and query).
    var uri: String
    /// Header fields; look up with ``header(_:)``.
    var headers: [(String, String)]
    var body: [UInt8]

    /// The first header named `name`, compared case-insensitively.
    func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.0.lowercased() == lowered }?.1
    }

    /// The path, without the query.
    var path: String { String(uri.prefix { $0 != "?" }) }

    /// The query string (still percent-encoded), or `""`.
    var query: String {
        guard let mark = uri.firstIndex(of: "?") else { return "" }
        return String(uri[uri.index(after: mark)...])
    }
}

/// A response the HTTP layer writes.
struct MockHTTPResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
}

/// What the HTTP layer must do with a request.
enum MockAction: Sendable {
    /// Write the response; with a body delay, write the head at once and the body after the delay.
    case respond(MockHTTPResponse, bodyDelay: Duration?)
    /// Close the connection without answering.
    case drop
}

/// Which endpoint a path names, and for which tenant (`/tenants/<tenant>/<endpoint>`).
struct MockRoute: Sendable, Hashable {
    var endpoint: MockAuthorizationServer.Endpoint
    var tenant: String?

    init(endpoint: MockAuthorizationServer.Endpoint, tenant: String?) {
        self.endpoint = endpoint
        self.tenant = tenant
    }

    /// Parses `/token`, `/tenants/acme/token`, … (other paths give `nil`).
    init?(path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let name: String
        switch parts.count {
        case 1:
            name = parts[0]
            tenant = nil
        case 3 where parts[0] == "tenants":
            name = parts[2]
            tenant = parts[1]
        default:
            return nil
        }
        guard let value = MockAuthorizationServer.Endpoint.Value(rawValue: name) else { return nil }
        endpoint = MockAuthorizationServer.Endpoint(value: value)
    }
}

/// The decision taken when a request arrives: where it goes, which fault it consumed, how long to wait.
struct MockPlan: Sendable {
    var route: MockRoute?
    var fault: MockAuthorizationServer.Fault?
    var delay: Duration
}

/// An OAuth error response (RFC 6749 §5.2), thrown inside the engine and turned into JSON at the edge.
struct OAuthFailure: Error {
    var status: Int
    var code: String
    var description: String

    static func invalidRequest(_ description: String) -> OAuthFailure {
        OAuthFailure(status: 400, code: "invalid_request", description: description)
    }
    static func invalidClient(_ description: String) -> OAuthFailure {
        OAuthFailure(status: 401, code: "invalid_client", description: description)
    }
    static func invalidGrant(_ description: String) -> OAuthFailure {
        OAuthFailure(status: 400, code: "invalid_grant", description: description)
    }
    static func invalidScope(_ description: String) -> OAuthFailure {
        OAuthFailure(status: 400, code: "invalid_scope", description: description)
    }
}

/// The server's whole state and protocol logic, shared by the public type and every connection handler.
///
/// Everything mutable lives in one `Mutex`; each request is processed in one short critical section, so requests
/// are linearizable (two concurrent refreshes with one token: exactly one wins, the other is a reuse).
final class MockServerEngine: Sendable {
    struct Client: Sendable {
        var id: String
        var secret: Secret?
        var tenant: String?
        var redirectURIs: [String]
        var authenticationMethods: Set<ProviderDescriptor.ClientAuthentication>?
    }

    struct AuthorizationCode: Sendable {
        var clientID: String
        var redirectURI: String
        var challenge: String?
        var scopes: [String]
        var subject: String
        var expiresAt: Date
        var isUsed = false
        var familyID: Int?
    }

    struct Family: Sendable {
        var clientID: String
        var subject: String
        var scopes: [String]
        var isRevoked = false
        var accessTokens: [String] = []
        var refreshTokens: [String] = []
    }

    struct AccessTokenState: Sendable {
        var familyID: Int
        var scopes: [String]
        var issuedAt: Date
        var expiresAt: Date
        var isRevoked = false
    }

    struct RefreshTokenState: Sendable {
        var familyID: Int
        var issuedAt: Date
        var expiresAt: Date?
        var isRotated = false
    }

    struct State: Sendable {
        var clients: [String: Client] = [:]
        var codes: [String: AuthorizationCode] = [:]
        var families: [Int: Family] = [:]
        var accessTokens: [String: AccessTokenState] = [:]
        var refreshTokens: [String: RefreshTokenState] = [:]
        var nextFamilyID = 1
        var faults: [MockAuthorizationServer.Endpoint: [MockAuthorizationServer.Fault]] = [:]
        var statistics = MockAuthorizationServer.Statistics()
        var latency: Duration
        var decision: MockAuthorizationServer.AuthorizationDecision
    }

    let configuration: MockAuthorizationServer.Configuration
    let state: Mutex<State>

    init(configuration: MockAuthorizationServer.Configuration) {
        self.configuration = configuration
        state = Mutex(State(latency: configuration.latency, decision: configuration.authorizationDecision))
    }

    var now: Date { configuration.clock.now() }

    // MARK: - Arrival

    /// Counts the request, consumes a fault for its endpoint, and decides how long to wait.
    func receive(_ request: MockHTTPRequest) -> MockPlan {
        let route = MockRoute(path: request.path)
        var grantType: String?
        var clientID: String?
        if let route {
            if route.endpoint == .authorization {
                clientID = Self.firstValues(FormEncoding.decode(request.query))["client_id"]
            } else {
                let form = Self.firstValues(FormEncoding.decode(String(decoding: request.body, as: UTF8.self)))
                if route.endpoint == .token { grantType = form["grant_type"] ?? "" }
                let basicID = Self.basicCredentials(request.header("Authorization"))?.id
                clientID = basicID.flatMap { $0.isEmpty ? nil : $0 } ?? form["client_id"]
            }
        }
        return state.withLock { state in
            guard let route else { return MockPlan(route: nil, fault: nil, delay: state.latency) }
            state.statistics.requestsByEndpoint[route.endpoint, default: 0] += 1
            if let grantType { state.statistics.requestsByGrantType[grantType, default: 0] += 1 }
            if let clientID {
                state.statistics.requestsByClientID[clientID, default: 0] += 1
                if let tenant = state.clients[clientID]?.tenant {
                    state.statistics.requestsByTenant[tenant, default: 0] += 1
                }
            }
            var fault: MockAuthorizationServer.Fault?
            if var queue = state.faults[route.endpoint], !queue.isEmpty {
                fault = queue.removeFirst()
                state.faults[route.endpoint] = queue.isEmpty ? nil : queue
                state.statistics.faultsInjected += 1
            }
            var delay = state.latency
            if case .slowResponse(let extra)? = fault?.kind { delay += extra }
            return MockPlan(route: route, fault: fault, delay: delay)
        }
    }

    /// Produces what to do with `request` after the plan's delay.
    func respond(to request: MockHTTPRequest, plan: MockPlan) -> MockAction {
        guard let route = plan.route else {
            return .respond(Self.page(404, "Not Found", "No such endpoint."), bodyDelay: nil)
        }
        switch plan.fault?.kind {
        case nil, .slowResponse?:
            return .respond(process(request, route: route), bodyDelay: nil)
        case .respond(let status, let headers, let body)?:
            return .respond(MockHTTPResponse(status: status, headers: headers, body: body), bodyDelay: nil)
        case .processThenRespond(let status, let headers, let body)?:
            _ = process(request, route: route)
            return .respond(MockHTTPResponse(status: status, headers: headers, body: body), bodyDelay: nil)
        case .alterFields(let changes)?:
            return .respond(Self.altering(process(request, route: route), changes), bodyDelay: nil)
        case .slowBody(let delay)?:
            return .respond(process(request, route: route), bodyDelay: delay)
        case .dropConnection(let afterProcessing)?:
            if afterProcessing { _ = process(request, route: route) }
            return .drop
        }
    }

    /// `response` with the fields of its JSON object replaced, added or removed (`nil`), if it is a 2xx response
    /// whose body is a JSON object; otherwise `response` unchanged.
    static func altering(
        _ response: MockHTTPResponse, _ changes: [String: MockAuthorizationServer.JSONLiteral?]
    ) -> MockHTTPResponse {
        guard (200..<300).contains(response.status),
            let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        else { return response }
        var fields: [String: MockAuthorizationServer.JSONLiteral] = [:]
        for (name, value) in object {
            guard
                let data = try? JSONSerialization.data(
                    withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
            else { continue }
            fields[name] = .raw(String(decoding: data, as: UTF8.self))
        }
        for (name, change) in changes { fields[name] = change }
        var altered = response
        altered.body = Array(MockAuthorizationServer.JSONLiteral.object(fields).text.utf8)
        return altered
    }

    /// Answers a request to `route` as a correct server would.
    func process(_ request: MockHTTPRequest, route: MockRoute) -> MockHTTPResponse {
        let allowed = route.endpoint == .authorization ? "GET" : "POST"
        guard request.method == allowed else {
            var response = Self.page(405, "Method Not Allowed", "Use \(allowed).")
            response.headers.append(("Allow", allowed))
            return response
        }
        switch route.endpoint.value {
        case .authorization:
            return authorizationResponse(query: request.query, tenant: route.tenant, decision: nil)
        case .token:
            return oauthResponse { try self.token(request, tenant: route.tenant) }
        case .revocation:
            return oauthResponse { try self.revoke(request, tenant: route.tenant) }
        case .introspection:
            return oauthResponse { try self.introspect(request, tenant: route.tenant) }
        }
    }

    private func oauthResponse(_ body: () throws -> MockHTTPResponse) -> MockHTTPResponse {
        do { return try body() } catch let failure as OAuthFailure {
            var headers = Self.jsonHeaders
            if failure.status == 401 {
                headers.append(("WWW-Authenticate", #"Basic realm="mock-authorization-server""#))
            }
            return MockHTTPResponse(
                status: failure.status, headers: headers,
                body: JSONBody.encode(["error": failure.code, "error_description": failure.description]))
        } catch {
            return Self.page(500, "Internal Server Error", "Unexpected error.")
        }
    }

    // MARK: - Helpers shared by the endpoints

    static let jsonHeaders = [
        ("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store"), ("Pragma", "no-cache"),
    ]

    static func json(_ object: [String: Any], status: Int = 200) -> MockHTTPResponse {
        MockHTTPResponse(status: status, headers: jsonHeaders, body: JSONBody.encode(object))
    }

    static func page(_ status: Int, _ title: String, _ text: String) -> MockHTTPResponse {
        let escaped = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        let html = """
            <!DOCTYPE html>
            <html><head><title>\(title)</title></head><body><h1>\(title)</h1><p>\(escaped)</p></body></html>

            """
        return MockHTTPResponse(
            status: status, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
            body: Array(html.utf8))
    }

    /// The first value of each name.
    static func firstValues(_ pairs: [(String, String)]) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in pairs where values[name] == nil { values[name] = value }
        return values
    }

    /// Parses a form body: `application/x-www-form-urlencoded`, no repeated parameter (RFC 6749 §3.2).
    static func form(of request: MockHTTPRequest) throws -> [String: String] {
        let type = request.header("Content-Type")?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/x-www-form-urlencoded" else {
            throw OAuthFailure.invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        return try uniqueValues(FormEncoding.decode(String(decoding: request.body, as: UTF8.self)))
    }

    /// The parameters as a dictionary; a repeated parameter is an `invalid_request`.
    static func uniqueValues(_ pairs: [(String, String)]) throws -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in pairs {
            guard values.updateValue(value, forKey: name) == nil else {
                throw OAuthFailure.invalidRequest("parameter \(name) is repeated")
            }
        }
        return values
    }

    /// Decodes `Authorization: Basic base64(formurlencode(id) ":" formurlencode(secret))` (RFC 6749 §2.3.1).
    /// Returns `nil` for another scheme or no header; `id` is empty when the credentials are malformed.
    static func basicCredentials(_ header: String?) -> (id: String, secret: String)? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic" else { return nil }
        guard let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let decoded = String(data: data, encoding: .utf8), let colon = decoded.firstIndex(of: ":")
        else { return ("", "") }
        return (
            FormEncoding.decodeComponent(decoded[..<colon]),
            FormEncoding.decodeComponent(decoded[decoded.index(after: colon)...])
        )
    }

    /// A random opaque token: a prefix and 32 random bytes in hex.
    static func makeToken(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var out = Array(prefix.utf8)
        for _ in 0..<32 {
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Splits a scope parameter on the configured delimiter.
    func scopes(in parameter: String?) -> [String] {
        guard let parameter else { return [] }
        var seen = Set<String>()
        return parameter.split(separator: configuration.scopeDelimiter, omittingEmptySubsequences: true)
            .map(String.init).filter { seen.insert($0).inserted }
    }

    /// The scopes to grant for a request (the requested ones, or the defaults), or `nil` when one is unknown.
    func grantedScopes(requested: String?) -> [String]? {
        let requested = scopes(in: requested)
        let scopes = requested.isEmpty ? configuration.defaultScopes : requested
        if let supported = configuration.supportedScopes, !scopes.allSatisfy(supported.contains) { return nil }
        return scopes
    }

    func joined(_ scopes: [String]) -> String { scopes.joined(separator: String(configuration.scopeDelimiter)) }
}

/// JSON encoding with sorted keys.
enum JSONBody {
    static func encode(_ object: [String: Any]) -> [UInt8] {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return Array("{}".utf8)
        }
        return Array(data)
    }
}
