import ArgumentParser
import Foundation
import OAuthBroker

/// `parse`: parses a typical token response N times on one thread, with the core's JSON reader and, as the
/// baseline, with the `JSONSerialization`-based parser the core used before it.
struct ParseScenario: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Token-response parsing: N parses of a typical response, JSONReader vs JSONSerialization.",
        discussion: """
            The body has an access token, a refresh token, scope, an id_token and two extra fields (about 1 KB).
            "api": "TokenResponse" parses the body; "api": "2xx" is what the broker does with a 2xx body: look
            for an OAuth error in it, then parse it as a token response. The baseline lines run the parser the core
            used before JSONReader (JSONSerialization, plus a JSONDecoder round trip per extra field).
            """)

    enum Path: String, ExpressibleByArgument, CaseIterable {
        case old, new, both
    }

    @Option(help: "Parses per measurement.")
    var iterations: Int = 200_000

    @Option(help: "Which parser to run: old (the JSONSerialization baseline), new (JSONReader), or both.")
    var path: Path = .both

    func validate() throws {
        guard iterations > 0, iterations <= 100_000_000 else {
            throw ValidationError("--iterations must be in 1...100000000")
        }
    }

    func run() throws {
        let body = Self.body
        var baselines: [String: Double] = [:]
        if path != .new {
            baselines["TokenResponse"] = try measure("TokenResponse", "JSONSerialization", baseline: true) {
                try LegacyTokenResponse(parsing: body).accessToken.revealedValue.utf8.count
            }
            baselines["2xx"] = try measure("2xx", "JSONSerialization (parsed twice)", baseline: true) {
                guard LegacyTokenResponse.oauthErrorCode(in: body) == nil else { return 0 }
                return try LegacyTokenResponse(parsing: body).accessToken.revealedValue.utf8.count
            }
        }
        if path != .old {
            _ = try measure("TokenResponse", "JSONReader", ratioTo: baselines["TokenResponse"]) {
                try TokenResponse(parsing: body).accessToken.revealedValue.utf8.count
            }
            _ = try measure("2xx", "JSONReader (parsed twice)", ratioTo: baselines["2xx"]) {
                guard ResponseClassifier.oauthError(in: body) == nil else { return 0 }
                return try TokenResponse(parsing: body).accessToken.revealedValue.utf8.count
            }
            _ = try measure("2xx", "JSONReader (parsed once)", ratioTo: baselines["2xx"]) {
                let json = try JSONValue(parsing: body)
                guard ResponseClassifier.oauthError(in: json) == nil else { return 0 }
                return try TokenResponse(json: json).accessToken.revealedValue.utf8.count
            }
        }
    }

    /// Runs `parse` ``iterations`` times (after a short warm-up), prints a line, and returns the rate.
    private func measure(
        _ api: String, _ parser: String, baseline: Bool = false, ratioTo reference: Double? = nil,
        _ parse: () throws -> Int
    ) throws -> Double {
        let (result, sink) = try Throughput.loop(iterations: iterations, parse)
        var line = JSONLine(scenario: "parse")
        line.set("api", api)
        line.set("parser", parser)
        if baseline { line.set("baseline", true) }
        line.set("body_bytes", Self.body.count)
        line.emit(loop: result, sink: sink, ratioTo: reference)
        return result.perSecond
    }

    /// A typical response from an OpenID Connect provider (Keycloak-like), about 1 KB.
    static let body = Data(
        #"""
        {"access_token":"eyJhbGciOiJSUzI1NiIsInR5cCIgOiAiSldUIiwia2lkIiA6ICJ4N2xQd1JqZk1IQ2s4dDBvIn0.eyJleHAiOjE3MDAwMDM2MDAsImlhdCI6MTcwMDAwMDAwMCwianRpIjoiYjE3YTVmNGMtOWQ1ZS00YjQ1LWE1ZjEtOGM2ZjNkNGUyYTFiIiwiaXNzIjoiaHR0cHM6Ly9pZHAuZXhhbXBsZS5jb20vcmVhbG1zL2RlbW8iLCJzdWIiOiJ1c2VyLTEiLCJ0eXAiOiJCZWFyZXIiLCJhenAiOiJjbGllbnQtMSIsInNjb3BlIjoib3BlbmlkIHByb2ZpbGUgZW1haWwgcmVhZCJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYmFzZTY0dXJsLWVuY29kZWQtMjU2LWJpdHM","expires_in":3600,"refresh_expires_in":86400,"refresh_token":"eyJhbGciOiJIUzI1NiIsInR5cCIgOiAiSldUIn0.eyJleHAiOjE3MDAwODY0MDAsImp0aSI6IjNmMmE2YjdjIn0.cmVmcmVzaC1zaWduYXR1cmU","token_type":"Bearer","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJhdWQiOiJjbGllbnQtMSIsIm5vbmNlIjoibi0wUzZfV3pBMk1qIn0.aWQtdG9rZW4tc2lnbmF0dXJl","session_state":"8f2c4c5e-3b1d-4f7e-9a6b-2d1e0f3c4b5a","scope":"openid profile email read"}
        """#.utf8)
}

/// The token-response parser of the core before JSONReader (commit c6bf6ab), kept here as the baseline:
/// `JSONSerialization`, then a `JSONSerialization` + `JSONDecoder` round trip per extra field.
private struct LegacyTokenResponse {
    var accessToken: Secret
    var tokenType: String
    var expiresIn: Duration?
    var refreshToken: Secret?
    var scope: ScopeSet?
    var idToken: Secret?
    var extraFields: [String: JSONValue]

    static let maximumExpiresIn: Int64 = 315_360_000

    /// The old `ResponseClassifier.oauthError(in:)` check: the error code, if the body is an error object.
    static func oauthErrorCode(in body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let code = object["error"] as? String, !code.isEmpty, code.utf8.count <= 128
        else { return nil }
        return code
    }

    init(parsing body: Data, scopeDelimiter: Character = " ", tokenTypeWhenMissing: String? = nil) throws {
        guard let json = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else {
            throw BrokerError(.malformedResponse, "the token response is not JSON")
        }
        guard var object = json as? [String: Any] else {
            throw BrokerError(.malformedResponse, "the token response is not a JSON object")
        }
        func string(_ name: String, required: Bool) throws -> String? {
            guard let raw = object.removeValue(forKey: name), !(raw is NSNull) else {
                if required { throw BrokerError(.malformedResponse, "the token response has no \(name)") }
                return nil
            }
            guard let value = raw as? String else {
                throw BrokerError(.malformedResponse, "\(name) in the token response is not a string")
            }
            return value
        }
        guard let access = try string("access_token", required: true), !access.isEmpty else {
            throw BrokerError(.malformedResponse, "access_token in the token response is empty")
        }
        accessToken = Secret(access)
        let type = try string("token_type", required: tokenTypeWhenMissing == nil) ?? tokenTypeWhenMissing ?? ""
        guard !type.isEmpty else { throw BrokerError(.malformedResponse, "token_type in the token response is empty") }
        tokenType = type.lowercased() == "bearer" ? "Bearer" : type
        expiresIn = try Self.parseExpiresIn(object.removeValue(forKey: "expires_in"))
        refreshToken = try string("refresh_token", required: false).flatMap { $0.isEmpty ? nil : Secret($0) }
        if let scopeString = try string("scope", required: false) {
            do {
                scope = try ScopeSet(parsing: scopeString, delimiter: scopeDelimiter)
            } catch {
                throw BrokerError(.malformedResponse, "scope in the token response is not a valid scope list")
            }
        } else {
            scope = nil
        }
        idToken = try string("id_token", required: false).map(Secret.init)
        var extras: [String: JSONValue] = [:]
        for (name, value) in object {
            guard let data = try? JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed]),
                let decoded = try? JSONDecoder().decode([JSONValue].self, from: data), let first = decoded.first
            else { continue }
            extras[name] = first
        }
        extraFields = extras
    }

    private static func parseExpiresIn(_ raw: Any?) throws -> Duration? {
        guard let raw, !(raw is NSNull) else { return nil }
        let seconds: Int64
        if let string = raw as? String {
            let trimmed = string.trimmingCharacters(in: .whitespaces)
            guard let value = Int64(trimmed) ?? Double(trimmed).flatMap({ exactWhole($0) }) else {
                throw BrokerError(.malformedResponse, "expires_in in the token response is not a number")
            }
            seconds = value
        } else if let number = raw as? NSNumber, !Self.isBoolean(number) {
            guard let value = exactWhole(number.doubleValue) else {
                throw BrokerError(.malformedResponse, "expires_in in the token response is not a whole number")
            }
            seconds = value
        } else {
            throw BrokerError(.malformedResponse, "expires_in in the token response is not a number")
        }
        guard seconds > 0, seconds <= maximumExpiresIn else {
            throw BrokerError(
                .malformedResponse, "expires_in in the token response is out of range (1 to \(maximumExpiresIn))")
        }
        return .seconds(seconds)
    }

    private static func isBoolean(_ number: NSNumber) -> Bool {
        let type = String(cString: number.objCType)
        return type == "c" || type == "B"
    }

    private static func exactWhole(_ value: Double) -> Int64? {
        guard value.isFinite, value.rounded(.down) == value, abs(value) < 9e15 else { return nil }
        return Int64(value)
    }
}
