import Foundation
import OAuthBroker

/// A copy of the `Codable`/`JSONEncoder`/`JSONDecoder` implementation of format 1 that `JSONStoreCodec` had
/// before it got its own JSON reader and writer: the reference the compatibility tests compare against, in both
/// directions (the old decoder must read what the new encoder writes, and the new decoder what the old wrote).
struct LegacyJSONStoreCodec {
    struct Failure: Error {}

    func encode(_ record: TokenRecord) throws -> [UInt8] {
        try Self.encode(RecordEnvelope(v: 1, record: RecordV1(record)))
    }

    func decodeRecord(_ bytes: [UInt8]) throws -> TokenRecord {
        let probe = try JSONDecoder().decode(VersionProbe.self, from: Data(bytes))
        guard bytes.first == UInt8(ascii: "{"), probe.v == 1 else { throw Failure() }
        return try JSONDecoder().decode(RecordEnvelope.self, from: Data(bytes)).record.tokenRecord
    }

    func encode(_ session: AuthorizationSession) throws -> [UInt8] {
        try Self.encode(SessionEnvelope(v: 1, session: SessionV1(session)))
    }

    func decodeSession(_ bytes: [UInt8]) throws -> AuthorizationSession {
        let probe = try JSONDecoder().decode(VersionProbe.self, from: Data(bytes))
        guard bytes.first == UInt8(ascii: "{"), probe.v == 1 else { throw Failure() }
        return try JSONDecoder().decode(SessionEnvelope.self, from: Data(bytes)).session.authorizationSession
    }

    private static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    private struct VersionProbe: Decodable { let v: Int }

    private struct RecordEnvelope: Codable {
        let v: Int
        let record: RecordV1
    }

    private struct SessionEnvelope: Codable {
        let v: Int
        let session: SessionV1
    }

    private struct RecordV1: Codable {
        let accessToken: Secret
        let refreshToken: Secret?
        let tokenType: String
        let scopes: ScopeSet
        let issuedAt: Date
        let expiresAt: Date?
        let idToken: Secret?
        let extra: [String: JSONValue]
        let version: UInt64
        let status: String

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case refreshToken = "refresh_token"
            case tokenType = "token_type"
            case scopes
            case issuedAt = "issued_at"
            case expiresAt = "expires_at"
            case idToken = "id_token"
            case extra
            case version
            case status
        }

        init(_ record: TokenRecord) {
            accessToken = record.accessToken
            refreshToken = record.refreshToken
            tokenType = record.tokenType
            scopes = record.scopes
            issuedAt = record.issuedAt
            expiresAt = record.expiresAt
            idToken = record.idToken
            extra = record.extraFields
            version = record.version
            status = record.status.rawValue
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            accessToken = try container.decode(Secret.self, forKey: .accessToken)
            refreshToken = try container.decodeIfPresent(Secret.self, forKey: .refreshToken)
            tokenType = try container.decode(String.self, forKey: .tokenType)
            scopes = try container.decode(ScopeSet.self, forKey: .scopes)
            issuedAt = Date(timeIntervalSinceReferenceDate: try container.decode(Double.self, forKey: .issuedAt))
            expiresAt = try container.decodeIfPresent(Double.self, forKey: .expiresAt).map {
                Date(timeIntervalSinceReferenceDate: $0)
            }
            idToken = try container.decodeIfPresent(Secret.self, forKey: .idToken)
            extra = try container.decodeIfPresent([String: JSONValue].self, forKey: .extra) ?? [:]
            version = try container.decode(UInt64.self, forKey: .version)
            status = try container.decode(String.self, forKey: .status)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(accessToken, forKey: .accessToken)
            try container.encodeIfPresent(refreshToken, forKey: .refreshToken)
            try container.encode(tokenType, forKey: .tokenType)
            try container.encode(scopes, forKey: .scopes)
            try container.encode(issuedAt.timeIntervalSinceReferenceDate, forKey: .issuedAt)
            try container.encodeIfPresent(expiresAt?.timeIntervalSinceReferenceDate, forKey: .expiresAt)
            try container.encodeIfPresent(idToken, forKey: .idToken)
            try container.encode(extra, forKey: .extra)
            try container.encode(version, forKey: .version)
            try container.encode(status, forKey: .status)
        }

        var tokenRecord: TokenRecord {
            TokenRecord(
                accessToken: accessToken, refreshToken: refreshToken, tokenType: tokenType, scopes: scopes,
                issuedAt: issuedAt, expiresAt: expiresAt, idToken: idToken, extraFields: extra, version: version,
                status: TokenRecord.Status(rawValue: status))
        }
    }

    private struct SessionV1: Codable {
        let state: Secret
        let codeVerifier: Secret
        let redirectURI: String
        let key: StoreKey
        let createdAt: Date
        let expiresAt: Date

        enum CodingKeys: String, CodingKey {
            case state
            case codeVerifier = "code_verifier"
            case redirectURI = "redirect_uri"
            case key
            case createdAt = "created_at"
            case expiresAt = "expires_at"
        }

        init(_ session: AuthorizationSession) {
            state = session.state
            codeVerifier = session.codeVerifier
            redirectURI = session.redirectURI
            key = session.key
            createdAt = session.createdAt
            expiresAt = session.expiresAt
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            state = try container.decode(Secret.self, forKey: .state)
            codeVerifier = try container.decode(Secret.self, forKey: .codeVerifier)
            redirectURI = try container.decode(String.self, forKey: .redirectURI)
            key = try container.decode(StoreKey.self, forKey: .key)
            createdAt = Date(timeIntervalSinceReferenceDate: try container.decode(Double.self, forKey: .createdAt))
            expiresAt = Date(timeIntervalSinceReferenceDate: try container.decode(Double.self, forKey: .expiresAt))
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(state, forKey: .state)
            try container.encode(codeVerifier, forKey: .codeVerifier)
            try container.encode(redirectURI, forKey: .redirectURI)
            try container.encode(key, forKey: .key)
            try container.encode(createdAt.timeIntervalSinceReferenceDate, forKey: .createdAt)
            try container.encode(expiresAt.timeIntervalSinceReferenceDate, forKey: .expiresAt)
        }

        var authorizationSession: AuthorizationSession {
            AuthorizationSession(
                state: state, codeVerifier: codeVerifier, redirectURI: redirectURI, key: key, createdAt: createdAt,
                expiresAt: expiresAt)
        }
    }
}
