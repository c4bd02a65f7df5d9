import OAuthBroker
import OAuthBrokerTools
import Testing

@Suite("ToolExitCode")
struct ToolExitCodeTests {
    @Test("every BrokerError code maps to the documented exit status")
    func mapping() {
        let expectations: [(BrokerError.Code, Int32)] = [
            (.invalidInput, 2), (.invalidConfiguration, 2), (.clientRejected, 2), (.grantNotSupported, 2),
            (.invalidGrant, 3), (.reauthorizationRequired, 3), (.tokenRevoked, 3), (.recordDeleted, 3),
            (.invalidAuthorizationState, 3), (.authorizationSessionExpired, 3),
            (.providerUnavailable, 4), (.rateLimited, 4), (.connectionFailed, 4), (.dnsFailure, 4), (.timedOut, 4),
            (.transportFailed, 4), (.storeUnavailable, 4), (.leaseUnavailable, 4), (.deadlineExceeded, 4),
            (.malformedResponse, 1), (.tlsFailure, 1), (.responseTooLarge, 1), (.redirectRefused, 1),
            (.cancelled, 1), (.storeCorrupted, 1), (.storeFailed, 1), (.providerRejected, 1),
        ]
        for (code, status) in expectations {
            #expect(ToolExitCode(for: BrokerError(code, "x")).rawValue == status, "\(code)")
        }
    }

    @Test("provider rejections: configuration errors exit 2, others 1")
    func providerRejected() {
        for (error, status) in [
            (OAuthErrorCode.unsupportedGrantType, Int32(2)), (.invalidScope, 2), (.invalidClient, 2),
            (.unauthorizedClient, 2), (.invalidRequest, 1), (OAuthErrorCode(rawValue: "vendor_quirk"), 1),
        ] {
            let brokerError = BrokerError(.providerRejected, "x", oauthError: error)
            #expect(ToolExitCode(for: brokerError).rawValue == status, "\(error)")
        }
    }

    @Test("authorization-endpoint errors: access_denied 3, temporarily_unavailable 4, invalid_scope 2")
    func authorizationErrors() {
        for (error, status) in [
            (OAuthErrorCode.accessDenied, Int32(3)), (OAuthErrorCode(rawValue: "consent_required"), 3),
            (.temporarilyUnavailable, 4), (.serverError, 4), (.invalidScope, 2),
            (OAuthErrorCode(rawValue: "unsupported_response_type"), 2),
        ] {
            let brokerError = BrokerError(.authorizationDenied, "x", oauthError: error)
            #expect(ToolExitCode(for: brokerError).rawValue == status, "\(error)")
        }
    }
}
