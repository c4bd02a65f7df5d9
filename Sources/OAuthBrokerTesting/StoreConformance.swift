import Foundation
public import OAuthBroker

/// A reusable conformance suite for ``OAuthBroker/BrokerStore`` implementations.
///
/// The suite checks every rule of the store contract: round trips, insert-if-absent, compare-and-swap outcomes,
/// status updates, deletes, key listing, single-use sessions, refresh leases, compare-and-swap under heavy
/// concurrency, and (for a ``OAuthBroker/ResealableStore``) re-encoding everything through the codec. It does not depend on a test framework: a failed check throws ``StoreConformance/Failure`` naming
/// the check and what went wrong, so any runner can report it.
///
/// Every check asks `makeStore` for a store and uses keys under fresh random tenants, so the checks can run
/// against a store shared with other data (a Redis database, a long-lived file) and in parallel with each other.
///
/// With Swift Testing, run each check as one case of a parameterized test:
/// ```swift
/// @Test(arguments: StoreConformance.Check.all)
/// func conformance(_ check: StoreConformance.Check) async throws {
///     try await StoreConformance { MyStore() }.run(check)
/// }
/// ```
/// or everything at once with ``run()``.
public struct StoreConformance: Sendable {
    /// Tunables for slow stores and slow machines.
    public struct Options: Sendable {
        /// How many tasks race on one key in the concurrent compare-and-swap check. Default 64.
        public var concurrentTasks: Int
        /// How many compare-and-swap attempts each racing task makes. Default 200.
        public var attemptsPerTask: Int
        /// The short time-to-live used by the lease expiry checks. Default 500 ms.
        public var shortLeaseTTL: Duration
        /// How long the lease takeover check waits, at most, for an expired lease to become free. Default 10 s.
        public var leaseWaitLimit: Duration

        /// Creates options.
        /// - Parameters:
        ///   - concurrentTasks: Tasks racing in the concurrent compare-and-swap check.
        ///   - attemptsPerTask: Attempts per racing task.
        ///   - shortLeaseTTL: The time-to-live used where a lease must expire.
        ///   - leaseWaitLimit: The bound on waiting for an expired lease.
        public init(
            concurrentTasks: Int = 64, attemptsPerTask: Int = 200, shortLeaseTTL: Duration = .milliseconds(500),
            leaseWaitLimit: Duration = .seconds(10)
        ) {
            self.concurrentTasks = concurrentTasks
            self.attemptsPerTask = attemptsPerTask
            self.shortLeaseTTL = shortLeaseTTL
            self.leaseWaitLimit = leaseWaitLimit
        }
    }

    /// One named check of the suite.
    public struct Check: Sendable, Hashable, CustomStringConvertible {
        /// The check's name, for example `"compare-and-swap outcomes"`.
        public let name: String
        let body: @Sendable (StoreConformance, any BrokerStore) async throws -> Void

        init(_ name: String, _ body: @escaping @Sendable (StoreConformance, any BrokerStore) async throws -> Void) {
            self.name = name
            self.body = body
        }

        /// The name.
        public var description: String { name }

        /// Checks are equal when their names are.
        public static func == (lhs: Check, rhs: Check) -> Bool { lhs.name == rhs.name }

        /// Hashes the name.
        public func hash(into hasher: inout Hasher) { hasher.combine(name) }

        /// Every check, in a stable order.
        public static var all: [Check] { StoreConformance.allChecks }

        /// The check called `name`, or `nil`.
        /// - Parameter name: A check name from ``all``.
        /// - Returns: The check.
        public static func named(_ name: String) -> Check? { all.first { $0.name == name } }
    }

    /// A failed check: which one, and what the store did wrong. Never contains a token.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The name of the failed check (or several names, joined, from ``StoreConformance/run()``).
        public let check: String
        /// What went wrong.
        public let message: String
        /// The line of `StoreConformance.swift` that detected it.
        public let line: Int

        /// `store conformance check '<check>' failed: <message>`.
        public var description: String { "store conformance check '\(check)' failed: \(message) (line \(line))" }
    }

    /// The tunables in use.
    public let options: Options
    private let makeStore: @Sendable () async throws -> any BrokerStore

    /// Creates a suite.
    /// - Parameters:
    ///   - options: Tunables; the defaults are the full-strength suite.
    ///   - makeStore: Returns the store to check. Called once per check; it may return a fresh store each time
    ///     or the same shared one.
    public init(options: Options = Options(), makeStore: @escaping @Sendable () async throws -> any BrokerStore) {
        self.options = options
        self.makeStore = makeStore
    }

    /// Runs one check.
    /// - Parameter check: The check, from ``Check/all``.
    /// - Throws: ``Failure`` when the store breaks the contract or throws.
    public func run(_ check: Check) async throws {
        let store: any BrokerStore
        do { store = try await makeStore() } catch {
            throw Failure(check: check.name, message: "makeStore threw: \(error)", line: #line)
        }
        do {
            try await check.body(self, store)
        } catch let mismatch as Mismatch {
            throw Failure(check: check.name, message: mismatch.message, line: mismatch.line)
        } catch {
            throw Failure(check: check.name, message: "the store threw: \(error)", line: #line)
        }
    }

    /// Runs every check, one after another, and reports all failures together.
    /// - Throws: ``Failure`` listing every failed check.
    public func run() async throws {
        var failures: [Failure] = []
        for check in Check.all {
            do { try await run(check) } catch let failure as Failure { failures.append(failure) }
        }
        guard !failures.isEmpty else { return }
        throw Failure(
            check: failures.map(\.check).joined(separator: ", "),
            message: failures.map(\.description).joined(separator: "\n"), line: failures[0].line)
    }
}

// MARK: - Helpers

struct Mismatch: Error {
    let message: String
    let line: Int
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
    if !condition { throw Mismatch(message: message(), line: line) }
}

func require<T>(_ value: T?, _ message: @autoclosure () -> String, line: Int = #line) throws -> T {
    guard let value else { throw Mismatch(message: message(), line: line) }
    return value
}

enum ConformanceFixtures {
    static func randomHex(_ bytes: Int = 8) -> String {
        (0..<bytes).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.map {
            $0.count == 1 ? "0" + $0 : $0
        }.joined()
    }

    static func tenant() throws -> TenantID { try TenantID("conformance-" + randomHex()) }

    static func key(tenant: TenantID? = nil, principal: String = "user", scopes: ScopeSet = ["read"]) throws
        -> StoreKey
    {
        StoreKey(
            provider: try ProviderID("conformance-provider"), tenant: try tenant ?? Self.tenant(),
            principal: try PrincipalID(principal), scopes: scopes)
    }

    /// A date on a whole millisecond, so stores that keep millisecond precision round-trip it exactly.
    static func date(_ offset: TimeInterval = 0) -> Date {
        let millis = ((Date().timeIntervalSince1970 + offset) * 1000).rounded(.down)
        return Date(timeIntervalSince1970: millis / 1000)
    }

    static func record(_ tag: String = randomHex(), version: UInt64? = nil) -> TokenRecord {
        TokenRecord(
            accessToken: Secret("access-\(tag)"), refreshToken: Secret("refresh-\(tag)"), tokenType: "Bearer",
            scopes: ["read"], issuedAt: date(), expiresAt: date(3600), idToken: nil,
            extraFields: ["tag": .string(tag)], version: version ?? TokenRecord.initialVersion(at: Date()),
            status: .active)
    }

    static func session(for key: StoreKey, expiresIn: TimeInterval) -> AuthorizationSession {
        AuthorizationSession(
            state: Secret("state-" + randomHex(16)), codeVerifier: Secret("verifier-" + randomHex(32)),
            redirectURI: "https://app.example/callback?x=1", key: key, createdAt: date(min(0, expiresIn - 600)),
            expiresAt: date(expiresIn))
    }
}

extension StoreConformance {
    static let allChecks: [Check] = [
        Check("record round trip", { try await $0.recordRoundTrip($1) }),
        Check("identifiers compare byte for byte", { try await $0.identifiersCompareByteForByte($1) }),
        Check("secrets survive round trip", { try await $0.secretsSurviveRoundTrip($1) }),
        Check("insert if absent", { try await $0.insertIfAbsent($1) }),
        Check("concurrent insert has one winner", { try await $0.concurrentInsert($1) }),
        Check("compare-and-swap outcomes", { try await $0.compareAndSwapOutcomes($1) }),
        Check("missing never resurrects", { try await $0.missingNeverResurrects($1) }),
        Check("set status bumps version", { try await $0.setStatusBumpsVersion($1) }),
        Check("delete", { try await $0.delete($1) }),
        Check("keys listing", { try await $0.keysListing($1) }),
        Check("sessions are single use", { try await $0.sessionsSingleUse($1) }),
        Check("concurrent session take has one winner", { try await $0.concurrentSessionTake($1) }),
        Check("expired sessions are not returned", { try await $0.expiredSessionsNotReturned($1) }),
        Check("purge expired sessions", { try await $0.purgeExpiredSessions($1) }),
        Check("lease is exclusive", { try await $0.leaseExclusive($1) }),
        Check("lease re-acquire renews", { try await $0.leaseReacquireRenews($1) }),
        Check("lease release only by owner", { try await $0.leaseReleaseOnlyByOwner($1) }),
        Check("lease expiry takeover", { try await $0.leaseExpiryTakeover($1) }),
        Check("concurrent compare-and-swap", { try await $0.concurrentCompareAndSwap($1) }),
        Check("re-sealing keeps records and sessions", { try await $0.resealKeepsRecordsAndSessions($1) }),
    ]
}
