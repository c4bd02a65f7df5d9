// oauth-broker-test-helper: runs one store or broker operation in its own OS process, for multi-process tests.
//
// Usage:
//   oauth-broker-test-helper cas-loop   --store URL --tenant T --iterations N [--principal P]
//                                       [--padding-bytes B]
//   oauth-broker-test-helper lease-loop --store URL --tenant T --iterations N [--principal P] [--owner O]
//                                       [--hold-ms M]
//   oauth-broker-test-helper lease-hold --store URL --tenant T --owner O --ttl-ms N [--principal P]
//
// cas-loop    Compare-and-swaps the record of (provider "test-helper", T, P) N times, each write incrementing a
//             counter that every token and a padding field (B bytes, default 4096) repeat, so a torn record is
//             detectable. Prints
//             `progress <i> counter <c> version <v>` after each successful swap and `done <N>` at the end.
//             Exits 5 if it ever reads a torn record.
// lease-loop  N times: takes the refresh lease (spinning, at most 60 s), reads the record, optionally waits M ms,
//             compare-and-swaps the counter + 1, releases. A conflict while holding the lease means two processes
//             held it at once: prints `violation` and exits 6. Prints `progress <i>` and `done <N>`.
// token      Prints `ready`, waits (at most 60 s) until --go-file exists, then asks a Broker (libcurl transport,
//             the given store) for the access token of (--provider-id, T, P, --scope) and prints `token <value>`.
//             Options: --store URL --token-endpoint URL --client-id ID --client-secret S --tenant T
//             [--principal P] [--scope "a b"] [--provider-id ID] [--go-file PATH] [--lease-ttl-ms N].
//             Exit 7 on a broker error.
// open       Prints `ready`, waits (at most 60 s) until --go-file exists, opens the store (creating or migrating
//             a database's schema) and prints `opened`. Options: --store URL [--go-file PATH].
// lease-hold  Takes the lease once with the given time-to-live; prints `acquired` (then waits, at most 120 s,
//             to be killed) or `refused` (exit 3).
//
// Exit codes: 0 success, 1 store error (message on stderr), 2 usage, 3 lease refused, 4 record missing,
//             5 torn record, 6 lease violation.

import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTools

#if canImport(Glibc)
    import Glibc
#endif

/// Writes one line to stdout unbuffered, so a parent reading the pipe sees it at once.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Exit with a code after printing to stderr.
struct Exit: Error {
    let code: Int32
    let message: String
}

/// The record content for counter `counter`: every field repeats the counter so a mix of two writes shows.
func record(counter: Int, writer: String, version: UInt64, paddingBytes: Int = 4096) -> TokenRecord {
    TokenRecord(
        accessToken: Secret("access-\(counter)"), refreshToken: Secret("refresh-\(counter)"),
        issuedAt: Date(), expiresAt: Date().addingTimeInterval(3600),
        extraFields: [
            "counter": .number(Double(counter)), "writer": .string(writer),
            "padding": .string(padding(counter, bytes: paddingBytes)),
        ],
        version: version)
}

/// About `bytes` bytes derived from the counter: large records make a kill likely to land inside a write.
func padding(_ counter: Int, bytes: Int) -> String {
    String(repeating: "\(counter)-", count: bytes / ("\(counter)-".count))
}

/// The counter of a record, or an `Exit(5)` if its fields disagree (a torn record).
func checkedCounter(_ record: TokenRecord, paddingBytes: Int) throws -> Int {
    guard case .number(let value)? = record.extraFields["counter"] else {
        throw Exit(code: 5, message: "torn record: no counter")
    }
    let counter = Int(value)
    guard record.accessToken == Secret("access-\(counter)"), record.refreshToken == Secret("refresh-\(counter)"),
        record.extraFields["padding"] == .string(padding(counter, bytes: paddingBytes))
    else { throw Exit(code: 5, message: "torn record: fields disagree with counter \(counter)") }
    return counter
}

struct Arguments {
    let command: String
    let options: [String: String]

    init(_ arguments: [String]) throws {
        guard arguments.count >= 2 else { throw Exit(code: 2, message: "usage: see the header of main.swift") }
        command = arguments[1]
        var options: [String: String] = [:]
        var index = 2
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--"), index + 1 < arguments.count else {
                throw Exit(code: 2, message: "expected --name value, got \(name)")
            }
            options[String(name.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
        self.options = options
    }

    func string(_ name: String) throws -> String {
        guard let value = options[name] else { throw Exit(code: 2, message: "missing --\(name)") }
        return value
    }

    func integer(_ name: String) throws -> Int {
        guard let value = Int(try string(name)), value >= 0 else {
            throw Exit(code: 2, message: "--\(name) must be a non-negative integer")
        }
        return value
    }

    func key() throws -> StoreKey {
        try StoreKey(provider: "test-helper", tenant: try string("tenant"), principal: options["principal"] ?? "user")
    }
}

/// Inserts the counter-0 record unless one exists.
func ensureRecord(_ store: any BrokerStore, key: StoreKey, writer: String, paddingBytes: Int = 4096) async throws {
    let initial = record(
        counter: 0, writer: writer, version: TokenRecord.initialVersion(at: Date()), paddingBytes: paddingBytes)
    _ = try await store.insert(initial, for: key)
}

func casLoop(_ arguments: Arguments) async throws {
    let store = try await StoreURL(try arguments.string("store")).makeStore()
    let key = try arguments.key()
    let iterations = try arguments.integer("iterations")
    let writer = "pid-\(getpid())"
    let paddingBytes = arguments.options["padding-bytes"].flatMap(Int.init) ?? 4096
    try await ensureRecord(store, key: key, writer: writer, paddingBytes: paddingBytes)
    for iteration in 1...max(1, iterations) where iterations > 0 {
        var swapped = false
        for _ in 0..<100_000 {
            guard let current = try await store.record(for: key) else {
                throw Exit(code: 4, message: "the record is missing")
            }
            let counter = try checkedCounter(current, paddingBytes: paddingBytes)
            let next = record(counter: counter + 1, writer: writer, version: 0, paddingBytes: paddingBytes)
            switch try await store.compareAndSwap(key, expecting: current.version, with: next) {
            case .swapped(let stored):
                say("progress \(iteration) counter \(counter + 1) version \(stored.version)")
                swapped = true
            case .conflict:
                continue
            case .missing:
                throw Exit(code: 4, message: "the record is missing")
            }
            break
        }
        guard swapped else { throw Exit(code: 1, message: "100000 conflicts in a row") }
    }
    say("done \(iterations)")
}

func leaseLoop(_ arguments: Arguments) async throws {
    let store = try await StoreURL(try arguments.string("store")).makeStore()
    let key = try arguments.key()
    let iterations = try arguments.integer("iterations")
    let hold = arguments.options["hold-ms"].flatMap(Int.init) ?? 0
    let owner = LeaseOwner(arguments.options["owner"] ?? "pid-\(getpid())")
    try await ensureRecord(store, key: key, writer: owner.rawValue)
    let clock = ContinuousClock()
    for iteration in 1...max(1, iterations) where iterations > 0 {
        let deadline = clock.now + .seconds(60)
        while !(try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(30))) {
            guard clock.now < deadline else { throw Exit(code: 3, message: "the lease stayed busy for 60 s") }
            try await Task.sleep(for: .milliseconds(2))
        }
        guard let current = try await store.record(for: key) else {
            throw Exit(code: 4, message: "the record is missing")
        }
        let counter = try checkedCounter(current, paddingBytes: 4096)
        if hold > 0 { try await Task.sleep(for: .milliseconds(hold)) }
        let next = record(counter: counter + 1, writer: owner.rawValue, version: 0)
        switch try await store.compareAndSwap(key, expecting: current.version, with: next) {
        case .swapped: break
        case .conflict:
            say("violation")
            throw Exit(code: 6, message: "another process wrote while this one held the lease")
        case .missing: throw Exit(code: 4, message: "the record is missing")
        }
        try await store.releaseRefreshLease(for: key, owner: owner)
        say("progress \(iteration)")
    }
    say("done \(iterations)")
}

func leaseHold(_ arguments: Arguments) async throws {
    let store = try await StoreURL(try arguments.string("store")).makeStore()
    let key = try arguments.key()
    let ttl = try arguments.integer("ttl-ms")
    let owner = LeaseOwner(try arguments.string("owner"))
    guard try await store.acquireRefreshLease(for: key, owner: owner, ttl: .milliseconds(ttl)) else {
        say("refused")
        throw Exit(code: 3, message: "the lease is held by another owner")
    }
    say("acquired")
    try await Task.sleep(for: .seconds(120))
}

/// Waits (at most 60 s) until the `--go-file` exists, if one is given.
func waitForGoFile(_ arguments: Arguments) async throws {
    guard let goFile = arguments.options["go-file"] else { return }
    let deadline = ContinuousClock.now + .seconds(60)
    while !FileManager.default.fileExists(atPath: goFile) {
        guard ContinuousClock.now < deadline else { throw Exit(code: 2, message: "the go file never appeared") }
        try await Task.sleep(for: .milliseconds(2))
    }
}

func open(_ arguments: Arguments) async throws {
    let url = try StoreURL(try arguments.string("store"))
    say("ready")
    try await waitForGoFile(arguments)
    _ = try await url.makeStore()
    say("opened")
}

func token(_ arguments: Arguments) async throws {
    let store = try await StoreURL(try arguments.string("store")).makeStore()
    guard let endpoint = URL(string: try arguments.string("token-endpoint")) else {
        throw Exit(code: 2, message: "--token-endpoint must be a URL")
    }
    let provider = try ProviderDescriptor(
        id: ProviderID(arguments.options["provider-id"] ?? "test-helper"), tokenEndpoint: endpoint,
        clientID: try arguments.string("client-id"), clientSecret: Secret(try arguments.string("client-secret")),
        grants: [.refreshToken, .clientCredentials], allowsInsecureLoopback: true)
    var configuration = BrokerConfiguration()
    if let ttl = arguments.options["lease-ttl-ms"].flatMap(Int64.init) {
        configuration.leaseTimeToLive = .milliseconds(ttl)
    }
    let broker = try Broker(provider: provider, store: store, configuration: configuration)
    let key = StoreKey(
        provider: provider.id, tenant: try TenantID(try arguments.string("tenant")),
        principal: try PrincipalID(arguments.options["principal"] ?? "user"),
        scopes: try ScopeSet(parsing: arguments.options["scope"] ?? ""))
    say("ready")
    try await waitForGoFile(arguments)
    do {
        let token = try await broker.accessToken(for: key)
        say("token \(token.value.revealedValue)")
    } catch let error as BrokerError {
        throw Exit(code: 7, message: "broker error: \(error)")
    }
}

do {
    let arguments = try Arguments(CommandLine.arguments)
    switch arguments.command {
    case "cas-loop": try await casLoop(arguments)
    case "lease-loop": try await leaseLoop(arguments)
    case "lease-hold": try await leaseHold(arguments)
    case "token": try await token(arguments)
    case "open": try await open(arguments)
    default: throw Exit(code: 2, message: "unknown command \(arguments.command)")
    }
    await StoreURL.closeOpenedStores()
    exit(0)
} catch let error as Exit {
    FileHandle.standardError.write(Data((error.message + "\n").utf8))
    await StoreURL.closeOpenedStores()
    exit(error.code)
} catch {
    FileHandle.standardError.write(Data("store error: \(error)\n".utf8))
    await StoreURL.closeOpenedStores()
    exit(1)
}
