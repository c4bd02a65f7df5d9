import Foundation
import OAuthBroker

/// The fuzz targets: each takes arbitrary bytes, feeds them to one parser of untrusted input, and checks the
/// parser's promises about whatever it accepts. A broken promise is a `preconditionFailure`, which libFuzzer (and
/// the corpus replay test) reports as a crash; a refused input is fine.
///
/// | target | input | promises checked |
/// |---|---|---|
/// | `token-response` | a token endpoint's response body | never crashes; an accepted response has a non-empty access token and token type, prints none of its secrets, and is stored and read back unchanged |
/// | `record-codec` | a stored record blob | never crashes; an accepted blob decodes to a record that re-encodes to a blob decoding to the same record |
/// | `session-codec` | a stored session blob | never crashes; an accepted blob re-encodes and decodes to the same session |
/// | `callback-url` | the URL an authorization callback lands on | never crashes; the fields the broker's callback parser reads survive re-encoding; form decoding inverts form encoding |
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `TokenResponse(parsing:)`, then the record the broker would store, through `JSONStoreCodec`.
    case tokenResponse = "token-response"
    /// `JSONStoreCodec.decodeRecord(_:for:)`.
    case recordCodec = "record-codec"
    /// `JSONStoreCodec.decodeSession(_:id:)`.
    case sessionCodec = "session-codec"
    /// The broker's authorization-callback parser (`AuthorizationResponse`), and `FormEncoding`.
    case callbackURL = "callback-url"

    /// Runs the target on one input.
    /// - Parameter bytes: Any bytes.
    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .tokenResponse: Self.tokenResponse(Data(bytes))
        case .recordCodec: Self.recordCodec(Array(bytes))
        case .sessionCodec: Self.sessionCodec(Array(bytes))
        case .callbackURL: Self.callbackURL(Array(bytes))
        }
    }

    /// Runs the target on one input held in an array.
    /// - Parameter bytes: Any bytes.
    public func run(_ bytes: [UInt8]) { bytes.withUnsafeBytes { run($0) } }

    private static let key = try! StoreKey(provider: "fuzz", tenant: "tenant", principal: "principal")
    private static let codec = JSONStoreCodec()
    private static let provider = try! ProviderID("fuzz")

    private static func tokenResponse(_ body: Data) {
        guard let response = try? TokenResponse(parsing: body) else { return }
        let access = response.accessToken.revealedValue
        promise(!access.isEmpty, "an accepted token response has an empty access token")
        promise(!response.tokenType.isEmpty, "an accepted token response has an empty token type")
        let secrets = [response.accessToken, response.refreshToken, response.idToken].compactMap { $0?.revealedValue }
        var dumped = ""
        dump(response, to: &dumped)
        for printed in [String(describing: response), String(reflecting: response), dumped] {
            for secret in secrets where secret.utf8.count >= 16 {
                promise(!printed.contains(secret), "a printed token response shows a token")
            }
        }
        let record = TokenRecord(
            accessToken: response.accessToken, refreshToken: response.refreshToken, tokenType: response.tokenType,
            scopes: response.scope ?? .empty, issuedAt: Date(timeIntervalSinceReferenceDate: 800_000_000),
            expiresAt: response.expiresIn.map { _ in Date(timeIntervalSinceReferenceDate: 800_003_600) },
            idToken: response.idToken, extraFields: response.extraFields, version: 1 << 40, status: .active)
        // Whatever a provider may send and the parser accepts, the store can keep and read back.
        guard let blob = try? codec.encode(record, for: key) else {
            return promise(false, "an accepted token response makes a record the codec cannot store")
        }
        promise((try? codec.decodeRecord(blob, for: key)) == record, "a stored record does not read back unchanged")
    }

    private static func recordCodec(_ bytes: [UInt8]) {
        guard let record = try? codec.decodeRecord(bytes, for: key) else { return }
        guard let blob = try? codec.encode(record, for: key) else {
            return promise(false, "a record the codec read cannot be written again")
        }
        promise((try? codec.decodeRecord(blob, for: key)) == record, "a record does not survive re-encoding")
    }

    private static func sessionCodec(_ bytes: [UInt8]) {
        // The blob names its own state; the id a store would pass is the state's hash, tried both ways.
        for id in ["0000000000000000000000000000000000000000000000000000000000000000"] + sessionIDs(in: bytes) {
            guard let session = try? codec.decodeSession(bytes, id: id) else { continue }
            guard let blob = try? codec.encode(session) else {
                return promise(false, "a session the codec read cannot be written again")
            }
            promise((try? codec.decodeSession(blob, id: id)) == session, "a session does not survive re-encoding")
        }
    }

    /// The id of the session a blob holds, if its `state` can be found cheaply (so decoding can succeed).
    private static func sessionIDs(in bytes: [UInt8]) -> [String] {
        guard let json = try? JSONValue(parsing: bytes), case .object(let root) = json,
            case .object(let session)? = root["session"], case .string(let state)? = session["state"],
            case .object(let key)? = session["key"], case .string(let provider)? = key["provider"],
            let providerID = try? ProviderID(provider)
        else { return [] }
        return [AuthorizationSession.id(forState: state, provider: providerID)]
    }

    private static func callbackURL(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        // The broker's own callback parser; what it reads survives being written into a query and read again.
        if let url = URL(string: text), let response = try? AuthorizationResponse(url: url, provider: provider) {
            let fields = [
                ("state", response.state), ("code", response.code), ("iss", response.issuer),
                ("error", response.error), ("error_description", response.errorDescription),
            ].compactMap { name, value in value.map { (name, $0) } }
            let query = String(decoding: FormEncoding.encode(fields), as: UTF8.self)
            guard let again = URL(string: "https://app.example/callback?" + query),
                let reread = try? AuthorizationResponse(url: again, provider: provider)
            else { return promise(false, "a callback's own fields, re-encoded, are refused") }
            promise(
                [reread.state, reread.code, reread.issuer, reread.error, reread.errorDescription]
                    == [response.state, response.code, response.issuer, response.error, response.errorDescription],
                "a callback's fields change when re-encoded and parsed again")
        }
        // Any fields survive encode-then-decode, byte for byte.
        let parts = text.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
        let fields = stride(from: 0, to: parts.count - 1, by: 2).map { (parts[$0], parts[$0 + 1]) }
        promise(sameFields(roundTrip(fields), fields), "form decoding does not invert form encoding")
    }

    private static func roundTrip(_ fields: [(String, String)]) -> [(String, String)] {
        FormEncoding.decode(String(decoding: FormEncoding.encode(fields), as: UTF8.self))
    }

    private static func sameFields(_ lhs: [(String, String)], _ rhs: [(String, String)]) -> Bool {
        lhs.count == rhs.count
            && zip(lhs, rhs).allSatisfy { $0.0.utf8.elementsEqual($1.0.utf8) && $0.1.utf8.elementsEqual($1.1.utf8) }
    }

    private static func promise(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { preconditionFailure(message()) }
    }
}
