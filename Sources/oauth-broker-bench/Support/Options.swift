import ArgumentParser
import Foundation
import OAuthBroker

/// Where tokens come from: the embedded mock authorization server (default) or any token endpoint.
struct IdentityProviderOptions: ParsableArguments {
    @Option(help: "A token endpoint to use instead of the embedded mock server (e.g. http://127.0.0.1:8080/token).")
    var tokenEndpoint: String?

    @Option(help: "The client ID for --token-endpoint.")
    var clientID: String?

    @Option(help: "The client secret for --token-endpoint.")
    var clientSecret: String?

    @Option(help: "How the client authenticates: basic (client_secret_basic) or post (client_secret_post).")
    var clientAuth: ClientAuthChoice = .basic

    @Option(help: "Latency the embedded mock server adds to every request, in milliseconds.")
    var idpLatencyMs: Int = 0

    func validate() throws {
        if tokenEndpoint != nil {
            guard clientID != nil, clientSecret != nil else {
                throw ValidationError("--token-endpoint needs --client-id and --client-secret")
            }
            guard idpLatencyMs == 0 else {
                throw ValidationError("--idp-latency-ms applies to the embedded mock server only")
            }
        }
        guard idpLatencyMs >= 0, idpLatencyMs <= 60_000 else {
            throw ValidationError("--idp-latency-ms must be in 0...60000")
        }
    }
}

enum ClientAuthChoice: String, ExpressibleByArgument, Sendable {
    case basic
    case post

    var method: ProviderDescriptor.ClientAuthentication {
        switch self {
        case .basic: .clientSecretBasic
        case .post: .clientSecretPost
        }
    }
}

/// The store under test.
struct StoreOptions: ParsableArguments {
    @Option(help: "The store: memory:, file:PATH, sqlite:PATH, redis://host:port or postgres://user@host:port/db.")
    var store: String = "memory:"

    @Flag(help: "Seal records and sessions (AES-256-GCM, SealingStoreCodec) under a random key for this run.")
    var sealed = false
}

/// How long and how wide a time-bounded loop runs.
struct LoopOptions: ParsableArguments {
    @Option(help: "Concurrent tasks.")
    var tasks: Int = 1

    @Option(help: "Seconds to run (0.1 to 600).")
    var seconds: Double = 3

    func validate() throws {
        guard tasks >= 1, tasks <= 10_000 else { throw ValidationError("--tasks must be in 1...10000") }
        guard seconds >= 0.1, seconds <= 600 else { throw ValidationError("--seconds must be in 0.1...600") }
    }
}
