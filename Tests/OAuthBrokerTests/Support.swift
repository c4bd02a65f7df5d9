import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Synchronization
import Testing

/// Shared fixtures for the core tests.
enum Fixtures {
    static let providerID = try! ProviderID("acme")

    static func provider(
        grants: Set<ProviderDescriptor.Grant> = [.clientCredentials, .refreshToken, .authorizationCode],
        auth: ProviderDescriptor.ClientAuthentication = .clientSecretBasic,
        revocation: Bool = true,
        strategy: any ProviderStrategy = StandardProviderStrategy()
    ) -> ProviderDescriptor {
        try! ProviderDescriptor(
            id: providerID,
            tokenEndpoint: URL(string: "https://idp.example.com/oauth/token")!,
            clientID: "client-1",
            clientSecret: auth == .none ? nil : Secret("s3cr3t-client"),
            clientAuthentication: auth,
            grants: grants,
            authorizationEndpoint: URL(string: "https://idp.example.com/oauth/authorize")!,
            revocationEndpoint: revocation ? URL(string: "https://idp.example.com/oauth/revoke")! : nil,
            introspectionEndpoint: URL(string: "https://idp.example.com/oauth/introspect")!,
            strategy: strategy)
    }

    static func key(tenant: String = "tenant-a", principal: String = "user-1", scopes: [String] = ["read"])
        -> StoreKey
    {
        try! StoreKey(provider: "acme", tenant: tenant, principal: principal, scopes: scopes)
    }

    static func configuration(clock: TestClock, _ adjust: (inout BrokerConfiguration) -> Void = { _ in })
        -> BrokerConfiguration
    {
        var configuration = BrokerConfiguration()
        configuration.clock = clock.brokerClock
        adjust(&configuration)
        return configuration
    }

    static func broker(
        provider: ProviderDescriptor = Fixtures.provider(),
        store: any BrokerStore = MemoryStore(),
        transport: FakeTransport = FakeTransport(),
        clock: TestClock = TestClock(),
        _ adjust: (inout BrokerConfiguration) -> Void = { _ in }
    ) -> Broker<FakeTransport, PassthroughErrorMapper> {
        try! Broker(
            provider: provider, store: store, transport: transport, errorMapper: PassthroughErrorMapper(),
            configuration: configuration(clock: clock, adjust))
    }

    /// Stores an active record with a refresh token that expires `expiresIn` after `clock.now`.
    @discardableResult
    static func seed(
        _ store: any BrokerStore, key: StoreKey, clock: TestClock, accessToken: String = "at-seed",
        refreshToken: String? = "rt-seed", expiresIn: Duration = .seconds(3600), issuedAgo: Duration = .zero
    ) async throws -> TokenRecord {
        let issued = clock.now.addingTimeInterval(-issuedAgo.timeInterval)
        let record = TokenRecord(
            accessToken: Secret(accessToken), refreshToken: refreshToken.map(Secret.init), scopes: key.scopes,
            issuedAt: issued, expiresAt: issued.addingTimeInterval(expiresIn.timeInterval),
            version: TokenRecord.initialVersion(at: issued))
        guard case .inserted(let stored) = try await store.insert(record, for: key) else {
            throw BrokerError(.storeFailed, "seed: key already present")
        }
        return stored
    }
}

extension Fixtures {
    /// Plays "another process": replaces `seeded` in the store with freshly issued tokens, by compare-and-swap.
    static func rotateAsAnotherWriter(
        _ store: any BrokerStore, key: StoreKey, over seeded: TokenRecord, clock: TestClock, accessToken: String,
        refreshToken: String
    ) async throws {
        var winner = seeded
        winner.accessToken = Secret(accessToken)
        winner.refreshToken = Secret(refreshToken)
        winner.issuedAt = clock.now
        winner.expiresAt = clock.now.addingTimeInterval(3600)
        guard case .swapped = try await store.compareAndSwap(key, expecting: seeded.version, with: winner) else {
            throw BrokerError(.storeFailed, "the other writer lost its own race")
        }
    }
}

/// Collects events delivered to ``BrokerConfiguration/onEvent``.
final class EventLog: Sendable {
    private let events = Mutex<[BrokerEvent]>([])
    func record(_ event: BrokerEvent) { events.withLock { $0.append(event) } }
    var all: [BrokerEvent] { events.withLock { $0 } }
    func count(_ kind: BrokerEvent.Kind) -> Int { all.filter { $0.kind == kind }.count }
}

/// A one-shot signal tests await instead of sleeping.
final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state -> Bool in
                if !state.fired { state.waiters.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }
}

/// Polls `condition` up to `attempts` times, yielding between polls (no fixed sleeps).
func eventually(attempts: Int = 10_000, _ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<attempts {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return false
}
