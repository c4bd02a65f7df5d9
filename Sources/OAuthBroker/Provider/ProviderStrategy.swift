/// Hooks for a provider's quirks.
///
/// Every method has a default that follows the RFCs; override only what a provider does differently.
public protocol ProviderStrategy: Sendable {
    /// Adjusts a request before it is sent (add a header, a parameter, rewrite the body).
    /// - Parameters:
    ///   - request: The request, already authenticated and encoded.
    ///   - grant: The grant being requested, or `nil` for revocation and introspection.
    func prepare(_ request: inout TransportRequest, grant: ProviderDescriptor.Grant?)

    /// Classifies a response before the standard rules do: return an error to fail with it, or `nil` to use
    /// the standard classification. Use this for providers that report errors with HTTP 200 in an unusual shape.
    func classify(_ response: TransportResponse, metadata: ResponseMetadata) -> BrokerError?

    /// The token type to assume when a token response omits `token_type` (RFC 6749 requires it).
    /// `nil` (the default) treats the omission as a malformed response.
    var tokenTypeWhenMissing: String? { get }
}

extension ProviderStrategy {
    /// Leaves the request as it is.
    public func prepare(_ request: inout TransportRequest, grant: ProviderDescriptor.Grant?) {}
    /// Defers to the standard classification.
    public func classify(_ response: TransportResponse, metadata: ResponseMetadata) -> BrokerError? { nil }
    /// `nil`: a missing `token_type` is an error.
    public var tokenTypeWhenMissing: String? { nil }
}

/// The strategy that follows RFC 6749 to the letter.
public struct StandardProviderStrategy: ProviderStrategy {
    /// The token type assumed when a response omits it, or `nil` to reject such responses.
    public let tokenTypeWhenMissing: String?

    /// Creates the strategy.
    /// - Parameter tokenTypeWhenMissing: Pass `"Bearer"` for providers that omit `token_type`.
    public init(tokenTypeWhenMissing: String? = nil) { self.tokenTypeWhenMissing = tokenTypeWhenMissing }
}
