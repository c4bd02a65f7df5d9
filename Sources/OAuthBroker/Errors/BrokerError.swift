import Foundation

/// The one error type the broker throws.
///
/// `BrokerError` is a struct with an extensible ``Code`` rather than an enum, so a minor release can add a
/// code without breaking a client's `switch`. Equality and hashing compare the ``code`` only, which lets tests
/// write `#expect(throws: BrokerError.invalidGrant)`.
///
/// Context (the RFC 6749 `error` and `error_description`, the HTTP status, `Retry-After`, the provider and a
/// redacted key) lives in private storage and is reachable through read-only properties.
///
/// - Important: No error text ever contains a secret: tokens, client secrets, PKCE verifiers and
///   authorization codes are never copied into an error. Every printed form (``description``,
///   ``debugDescription``, `dump`, `Mirror`) is one line: control and line-separator characters in the message, the
///   OAuth `error` or an underlying error are replaced by `?`. None of them prints the provider's
///   `error_description`, which is the provider's free text (some providers quote the rejected token in it); read
///   ``oauthErrorDescription`` to show it on purpose.
public struct BrokerError: Error, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A stable, low-cardinality classification of a ``BrokerError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case invalidInput = "invalid_input"
            case invalidConfiguration = "invalid_configuration"
            case invalidGrant = "invalid_grant"
            case reauthorizationRequired = "reauthorization_required"
            case tokenRevoked = "token_revoked"
            case recordDeleted = "record_deleted"
            case providerRejected = "provider_rejected"
            case clientRejected = "client_rejected"
            case providerUnavailable = "provider_unavailable"
            case rateLimited = "rate_limited"
            case malformedResponse = "malformed_response"
            case connectionFailed = "connection_failed"
            case dnsFailure = "dns_failure"
            case timedOut = "timed_out"
            case tlsFailure = "tls_failure"
            case responseTooLarge = "response_too_large"
            case redirectRefused = "redirect_refused"
            case transportFailed = "transport_failed"
            case cancelled = "cancelled"
            case deadlineExceeded = "deadline_exceeded"
            case authorizationDenied = "authorization_denied"
            case invalidAuthorizationState = "invalid_authorization_state"
            case authorizationSessionExpired = "authorization_session_expired"
            case grantNotSupported = "grant_not_supported"
            case storeUnavailable = "store_unavailable"
            case storeCorrupted = "store_corrupted"
            case storeFailed = "store_failed"
            case sealingKeyMissing = "sealing_key_missing"
            case leaseUnavailable = "lease_unavailable"
            case keyOutsideScope = "key_outside_scope"
        }

        fileprivate let value: Value
        fileprivate init(_ value: Value) { self.value = value }

        /// Input from the caller (an identifier, a scope, a URL) was rejected by validation.
        public static let invalidInput = Code(.invalidInput)
        /// A configuration value (provider descriptor, policy, store or transport option) is invalid.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The provider answered `invalid_grant`: the grant is dead and the user must re-authorize.
        public static let invalidGrant = Code(.invalidGrant)
        /// No usable grant is stored for the key (nothing stored, or a record marked needs-reauthorization).
        public static let reauthorizationRequired = Code(.reauthorizationRequired)
        /// The stored record was revoked.
        public static let tokenRevoked = Code(.tokenRevoked)
        /// The record was deleted while a flow ran; it is never recreated behind the user's back.
        public static let recordDeleted = Code(.recordDeleted)
        /// The provider rejected the request with an OAuth error other than `invalid_grant` or client errors.
        public static let providerRejected = Code(.providerRejected)
        /// The provider rejected the client itself (`invalid_client`, `unauthorized_client`).
        public static let clientRejected = Code(.clientRejected)
        /// The provider answered 5xx or an equivalent transient failure.
        public static let providerUnavailable = Code(.providerUnavailable)
        /// The provider answered 429 (or 503 with `Retry-After`); see ``BrokerError/retryAfter``.
        public static let rateLimited = Code(.rateLimited)
        /// The token endpoint answered something that is not a valid RFC 6749 response.
        public static let malformedResponse = Code(.malformedResponse)
        /// The TCP connection could not be established (refused, unreachable).
        public static let connectionFailed = Code(.connectionFailed)
        /// The endpoint's host name could not be resolved.
        public static let dnsFailure = Code(.dnsFailure)
        /// A transport or store operation timed out.
        public static let timedOut = Code(.timedOut)
        /// TLS negotiation or certificate verification failed.
        public static let tlsFailure = Code(.tlsFailure)
        /// The response body exceeded the configured limit.
        public static let responseTooLarge = Code(.responseTooLarge)
        /// The endpoint answered with a redirect, which a token endpoint must not do.
        public static let redirectRefused = Code(.redirectRefused)
        /// Any other transport failure.
        public static let transportFailed = Code(.transportFailed)
        /// The operation was cancelled.
        public static let cancelled = Code(.cancelled)
        /// The operation's total deadline passed.
        public static let deadlineExceeded = Code(.deadlineExceeded)
        /// The authorization callback carried `error=access_denied` (or another authorization error).
        public static let authorizationDenied = Code(.authorizationDenied)
        /// The callback's `state` is unknown, forged, or was already used.
        public static let invalidAuthorizationState = Code(.invalidAuthorizationState)
        /// The authorization session expired before the callback arrived.
        public static let authorizationSessionExpired = Code(.authorizationSessionExpired)
        /// The provider descriptor does not allow the grant the operation needs.
        public static let grantNotSupported = Code(.grantNotSupported)
        /// The store could not be reached (a dead Redis, a locked file past its timeout).
        public static let storeUnavailable = Code(.storeUnavailable)
        /// The store's data could not be decoded; the data was kept, not replaced.
        public static let storeCorrupted = Code(.storeCorrupted)
        /// Any other store failure.
        public static let storeFailed = Code(.storeFailed)
        /// A stored record or session is sealed under a key id the ``SealingStoreCodec`` was not given; the message
        /// names the id. Nothing stored was changed: configure the key and try again.
        public static let sealingKeyMissing = Code(.sealingKeyMissing)
        /// Another process holds the refresh lease and did not finish within the wait budget.
        public static let leaseUnavailable = Code(.leaseUnavailable)
        /// A tenant-scoped view (``Broker/tenant(_:)-(TenantID)``) was handed a key of another tenant (or another
        /// provider); nothing was read or changed.
        public static let keyOutsideScope = Code(.keyOutsideScope)

        /// A short, bounded, snake_case name that is safe to use as a metric label.
        public var description: String { value.rawValue }

        /// Whether retrying the same operation later can succeed.
        public var isTransient: Bool {
            switch value {
            case .providerUnavailable, .rateLimited, .connectionFailed, .dnsFailure, .timedOut, .transportFailed,
                .storeUnavailable, .leaseUnavailable, .deadlineExceeded:
                return true
            default:
                return false
            }
        }
    }

    private final class Storage: Sendable {
        let code: Code
        let message: String
        let oauthError: OAuthErrorCode?
        let oauthErrorDescription: String?
        let status: Int?
        let retryAfter: Duration?
        let provider: ProviderID?
        let redactedKey: String?
        let underlying: (any Error & Sendable)?
        let file: String
        let line: Int

        init(
            code: Code, message: String, oauthError: OAuthErrorCode?, oauthErrorDescription: String?, status: Int?,
            retryAfter: Duration?, provider: ProviderID?, redactedKey: String?, underlying: (any Error & Sendable)?,
            file: String, line: Int
        ) {
            self.code = code
            self.message = message
            self.oauthError = oauthError
            self.oauthErrorDescription = oauthErrorDescription
            self.status = status
            self.retryAfter = retryAfter
            self.provider = provider
            self.redactedKey = redactedKey
            self.underlying = underlying
            self.file = file
            self.line = line
        }
    }

    private let storage: Storage

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The classification.
    ///   - message: A human-readable explanation. It must not contain secrets. Control and line-separator
    ///     characters are replaced by `?` and it is cut to 1,024 characters, so it prints on one line.
    ///   - oauthError: The RFC 6749 §5.2 `error` value, when the provider sent one.
    ///   - oauthErrorDescription: The provider's `error_description`; kept cut to 256 characters, with control and
    ///     line-separator characters replaced by `?`.
    ///   - status: The HTTP status, when the error came from an HTTP response.
    ///   - retryAfter: How long the provider asked the client to wait.
    ///   - provider: The provider the operation talked to.
    ///   - key: The store key concerned; only its redacted form is kept.
    ///   - underlying: The error that caused this one.
    public init(
        _ code: Code,
        _ message: String,
        oauthError: OAuthErrorCode? = nil,
        oauthErrorDescription: String? = nil,
        status: Int? = nil,
        retryAfter: Duration? = nil,
        provider: ProviderID? = nil,
        key: StoreKey? = nil,
        underlying: (any Error & Sendable)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        storage = Storage(
            code: code, message: PrintableText.sanitized(message, limit: 1024), oauthError: oauthError,
            oauthErrorDescription: oauthErrorDescription.map { PrintableText.sanitized($0, limit: 256) },
            status: status,
            retryAfter: retryAfter, provider: provider ?? key?.provider, redactedKey: key?.redactedDescription,
            underlying: underlying, file: file, line: line)
    }

    private init(copying other: BrokerError, provider: ProviderID?, key: StoreKey?) {
        let s = other.storage
        storage = Storage(
            code: s.code, message: s.message, oauthError: s.oauthError, oauthErrorDescription: s.oauthErrorDescription,
            status: s.status, retryAfter: s.retryAfter, provider: s.provider ?? provider ?? key?.provider,
            redactedKey: s.redactedKey ?? key?.redactedDescription, underlying: s.underlying, file: s.file,
            line: s.line)
    }

    /// The classification of this error.
    public var code: Code { storage.code }
    /// A human-readable explanation, free of secrets.
    public var message: String { storage.message }
    /// The RFC 6749 `error` the provider sent, if any.
    public var oauthError: OAuthErrorCode? { storage.oauthError }
    /// The provider's `error_description`, if any: at most 256 characters, control and line-separator characters
    /// replaced by `?`. It is the provider's free text, which no printed form of the error includes: show it only
    /// where that is safe.
    public var oauthErrorDescription: String? { storage.oauthErrorDescription }
    /// The HTTP status of the response that caused this error, if any.
    public var status: Int? { storage.status }
    /// The delay the provider asked for with `Retry-After`, if any.
    public var retryAfter: Duration? { storage.retryAfter }
    /// The provider concerned, if known.
    public var provider: ProviderID? { storage.provider }
    /// The redacted form of the store key concerned (see ``StoreKey/redactedDescription``).
    public var redactedKey: String? { storage.redactedKey }
    /// The error that caused this one, if any.
    public var underlying: (any Error & Sendable)? { storage.underlying }
    /// Whether retrying later can succeed. Shorthand for `code.isTransient`.
    public var isTransient: Bool { storage.code.isTransient }
    /// Whether the grant is gone and a user must authorize again.
    public var needsReauthorization: Bool {
        code == .invalidGrant || code == .reauthorizationRequired || code == .tokenRevoked
            || code == .recordDeleted
    }

    /// Returns a copy that names `provider` and `key` when this error does not already name them.
    public func adding(provider: ProviderID? = nil, key: StoreKey? = nil) -> BrokerError {
        BrokerError(copying: self, provider: provider, key: key)
    }

    /// `code: message`, plus the OAuth error, status and retry hint when present. Never contains a secret, and
    /// is one line.
    public var description: String {
        var parts = "\(code): \(message)"
        if let oauthError { parts += " [error=\(PrintableText.sanitized(oauthError.rawValue, limit: 128))]" }
        if let status { parts += " [status=\(status)]" }
        if let retryAfter { parts += " [retry-after=\(retryAfter)]" }
        if let provider { parts += " [provider=\(provider)]" }
        if let redactedKey { parts += " [key=\(redactedKey)]" }
        return parts
    }

    /// ``description`` plus the underlying error and the source location. The provider's `error_description` is
    /// not printed (only that there is one): it is the provider's free text; see ``oauthErrorDescription``.
    public var debugDescription: String {
        var text = description
        if oauthErrorDescription != nil { text += " [error_description omitted]" }
        if let underlyingText { text += " [underlying=\(underlyingText)]" }
        return text + " (\(storage.file):\(storage.line))"
    }

    /// The underlying error as one bounded line.
    private var underlyingText: String? {
        underlying.map { PrintableText.sanitized(String(describing: $0), limit: 512) }
    }

    /// Errors are equal when their codes are equal.
    public static func == (lhs: BrokerError, rhs: BrokerError) -> Bool { lhs.code == rhs.code }

    /// Hashes the code only, consistent with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

extension BrokerError: CustomReflectable {
    /// Reflection (`dump`, `Mirror`) shows what ``debugDescription`` shows: never the provider's
    /// `error_description`.
    public var customMirror: Mirror {
        var children: [(label: String?, value: Any)] = [("code", code.description), ("message", message)]
        if let oauthError { children.append(("oauthError", PrintableText.sanitized(oauthError.rawValue))) }
        if let status { children.append(("status", status)) }
        if let retryAfter { children.append(("retryAfter", retryAfter)) }
        if let provider { children.append(("provider", provider.rawValue)) }
        if let redactedKey { children.append(("key", redactedKey)) }
        if let underlyingText { children.append(("underlying", underlyingText)) }
        return Mirror(self, children: children, displayStyle: .struct)
    }
}

extension BrokerError {
    /// A value to match against in tests: `#expect(throws: BrokerError.invalidGrant)`.
    public static let invalidInput = BrokerError(.invalidInput, "invalid input")
    /// A value to match against in tests.
    public static let invalidConfiguration = BrokerError(.invalidConfiguration, "invalid configuration")
    /// A value to match against in tests.
    public static let invalidGrant = BrokerError(.invalidGrant, "invalid grant")
    /// A value to match against in tests.
    public static let reauthorizationRequired = BrokerError(.reauthorizationRequired, "reauthorization required")
    /// A value to match against in tests.
    public static let tokenRevoked = BrokerError(.tokenRevoked, "token revoked")
    /// A value to match against in tests.
    public static let recordDeleted = BrokerError(.recordDeleted, "record deleted")
    /// A value to match against in tests.
    public static let providerRejected = BrokerError(.providerRejected, "provider rejected the request")
    /// A value to match against in tests.
    public static let clientRejected = BrokerError(.clientRejected, "provider rejected the client")
    /// A value to match against in tests.
    public static let providerUnavailable = BrokerError(.providerUnavailable, "provider unavailable")
    /// A value to match against in tests.
    public static let rateLimited = BrokerError(.rateLimited, "rate limited")
    /// A value to match against in tests.
    public static let malformedResponse = BrokerError(.malformedResponse, "malformed response")
    /// A value to match against in tests.
    public static let connectionFailed = BrokerError(.connectionFailed, "connection failed")
    /// A value to match against in tests.
    public static let dnsFailure = BrokerError(.dnsFailure, "DNS failure")
    /// A value to match against in tests.
    public static let timedOut = BrokerError(.timedOut, "timed out")
    /// A value to match against in tests.
    public static let tlsFailure = BrokerError(.tlsFailure, "TLS failure")
    /// A value to match against in tests.
    public static let responseTooLarge = BrokerError(.responseTooLarge, "response too large")
    /// A value to match against in tests.
    public static let redirectRefused = BrokerError(.redirectRefused, "redirect refused")
    /// A value to match against in tests.
    public static let transportFailed = BrokerError(.transportFailed, "transport failed")
    /// A value to match against in tests.
    public static let cancelled = BrokerError(.cancelled, "cancelled")
    /// A value to match against in tests.
    public static let deadlineExceeded = BrokerError(.deadlineExceeded, "deadline exceeded")
    /// A value to match against in tests.
    public static let authorizationDenied = BrokerError(.authorizationDenied, "authorization denied")
    /// A value to match against in tests.
    public static let invalidAuthorizationState = BrokerError(.invalidAuthorizationState, "invalid state")
    /// A value to match against in tests.
    public static let authorizationSessionExpired = BrokerError(.authorizationSessionExpired, "session expired")
    /// A value to match against in tests.
    public static let grantNotSupported = BrokerError(.grantNotSupported, "grant not supported")
    /// A value to match against in tests.
    public static let storeUnavailable = BrokerError(.storeUnavailable, "store unavailable")
    /// A value to match against in tests.
    public static let storeCorrupted = BrokerError(.storeCorrupted, "store corrupted")
    /// A value to match against in tests.
    public static let storeFailed = BrokerError(.storeFailed, "store failed")
    /// A value to match against in tests.
    public static let sealingKeyMissing = BrokerError(.sealingKeyMissing, "sealing key missing")
    /// A value to match against in tests.
    public static let leaseUnavailable = BrokerError(.leaseUnavailable, "lease unavailable")
}
