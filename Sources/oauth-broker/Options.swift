import ArgumentParser
import Foundation
import Logging
import OAuthBroker
import OAuthBrokerTools

/// `--store URL`.
struct StoreOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Where tokens live: memory:, file:PATH, sqlite:PATH, redis://[user:pass@]host:port[/db] or "
                + "postgres://user[:pass]@host:port/db[?schema=S] (better without the password: see "
                + "--redis-password-file; for PostgreSQL, PGPASSWORD or ~/.pgpass).",
            valueName: "url"))
    var store: String

    @Option(
        help: ArgumentHelp(
            "A file holding the Redis password (one line), instead of a password in the URL; "
                + "OAUTH_BROKER_REDIS_PASSWORD is read when this is not given.",
            valueName: "file"))
    var redisPasswordFile: String?

    /// The environment variable read for the Redis password when `--redis-password-file` is not given.
    static let redisPasswordVariable = "OAUTH_BROKER_REDIS_PASSWORD"

    /// The Redis password from `--redis-password-file` or `OAUTH_BROKER_REDIS_PASSWORD` for a `redis://` store,
    /// `nil` when neither is given. The variable is ignored for other stores (it may be set for the shell); the
    /// flag is an error with them.
    func redisPassword(for url: StoreURL) throws -> Secret? {
        if let redisPasswordFile {
            guard url.kind == .redis else {
                throw BrokerError(.invalidConfiguration, "--redis-password-file: the store is not redis://")
            }
            guard let data = FileManager.default.contents(atPath: redisPasswordFile) else {
                throw BrokerError(.invalidConfiguration, "--redis-password-file: \(redisPasswordFile) cannot be read")
            }
            var text = String(decoding: data, as: UTF8.self)
            // One line: a final line break (as editors and `echo` write) is not part of the password.
            if text.hasSuffix("\n") { text.removeLast() }
            if text.hasSuffix("\r") { text.removeLast() }
            guard !text.isEmpty, !text.contains(where: \.isNewline) else {
                throw BrokerError(
                    .invalidConfiguration, "--redis-password-file: \(redisPasswordFile) must hold one non-empty line")
            }
            return Secret(text)
        }
        guard url.kind == .redis, let value = ProcessInfo.processInfo.environment[Self.redisPasswordVariable],
            !value.isEmpty
        else { return nil }
        return Secret(value)
    }

    @Option(
        name: .customLong("store-keys"),
        help: ArgumentHelp(
            "A key file sealing the store (AES-256-GCM): 'KEY_ID BASE64' per line, the first key seals, all open. "
                + "Default: $\(StoreKeyFile.environmentVariable); without either nothing is sealed.",
            valueName: "file"))
    var storeKeys: String?

    /// The key file named by `--store-keys`, else by `OAUTH_BROKER_STORE_KEYS` (an empty value counts as unset).
    var storeKeysPath: String? {
        storeKeys
            ?? ProcessInfo.processInfo.environment[StoreKeyFile.environmentVariable].flatMap {
                $0.isEmpty ? nil : $0
            }
    }

    /// The sealing codec from the key file, or `nil` when no key file is named.
    func sealingCodec() throws -> SealingStoreCodec? {
        guard let path = storeKeysPath else { return nil }
        do {
            return try SealingStoreCodec(keys: StoreKeyFile.load(path: path))
        } catch let error as BrokerError {
            throw BrokerError(error.code, "--store-keys: \(error.message)")
        }
    }

    /// Parses the URL, reads the key file (if any) and the Redis password (if any), and opens the store.
    /// - Parameter waitCap: The longest one store call may wait for a lock or a server (see
    ///   `StoreURL.makeStore(now:waitCap:codec:redisPassword:)`); the commands that store tokens pass `--store-write-timeout`.
    func open(waitCap: Duration? = nil) async throws -> (url: StoreURL, store: any BrokerStore) {
        let url: StoreURL
        do {
            url = try StoreURL(store)
        } catch let error as BrokerError {
            throw BrokerError(error.code, "--store: \(error.message)")
        }
        let password = try redisPassword(for: url)
        let codec: any StoreCodec = try sealingCodec() ?? JSONStoreCodec()
        do {
            return (url, try await url.makeStore(waitCap: waitCap, codec: codec, redisPassword: password))
        } catch let error as BrokerError where error.code == .invalidConfiguration {
            throw BrokerError(error.code, "--store: \(error.message)")
        }
    }
}

/// `--provider FILE --store URL`: a provider file and a store. `authorize` needs only these; the commands that
/// talk to the provider take ``BrokerOptions``, which adds ``TimeoutOptions``.
struct ProviderStoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The provider file (JSON).", valueName: "file"))
    var provider: String

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var loggingOptions: LoggingOptions

    /// Checks `configuration`, then loads the provider file, opens the store, and makes a broker with the chosen
    /// transport. A bad configuration fails before any file or store is opened.
    func makeContext(
        configuration: BrokerConfiguration = BrokerConfiguration(), transport: TransportChoice = .curl
    ) async throws -> BrokerContext {
        var configuration = configuration
        // One command, one answer: a stale token is refreshed before it is printed, not in the background.
        configuration.staleTokenBehavior = .waitForRefresh
        try configuration.validate()
        let file = try ProviderFile.load(path: provider)
        // One store call never waits past the store-write budget, so that budget bounds a write of a token in hand.
        let (url, store) = try await storeOptions.open(waitCap: configuration.storeWriteTimeout)
        let broker = try transport.makeBroker(
            provider: file.descriptor, store: store, configuration: configuration, logger: loggingOptions.makeLogger())
        return BrokerContext(providerFile: file, storeURL: url, broker: broker)
    }
}

/// `--provider FILE --store URL` and the timeouts: what every command that talks to a provider needs.
struct BrokerOptions: ParsableArguments {
    @OptionGroup var providerStoreOptions: ProviderStoreOptions

    @OptionGroup var timeoutOptions: TimeoutOptions

    @OptionGroup var transportOptions: TransportOptions

    /// Applies the timeouts, then loads the provider file, opens the store, and makes a broker over them.
    func makeContext() async throws -> BrokerContext {
        var configuration = BrokerConfiguration()
        try timeoutOptions.apply(to: &configuration)
        return try await providerStoreOptions.makeContext(
            configuration: configuration, transport: transportOptions.transport.choice)
    }
}

/// `--transport curl|ahc`: the HTTP client the commands that talk to the provider use.
struct TransportOptions: ParsableArguments {
    enum Name: String, ExpressibleByArgument, CaseIterable {
        case curl, ahc

        var choice: TransportChoice {
            switch self {
            case .curl: .curl
            case .ahc: .ahc
            }
        }
    }

    @Option(help: "The HTTP client: curl (libcurl, the default) or ahc (AsyncHTTPClient on SwiftNIO).")
    var transport: Name = .curl
}

/// `--log-level LEVEL`: log to standard error at LEVEL and above; by default nothing is logged.
struct LoggingOptions: ParsableArguments {
    enum Level: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        var level: Logger.Level {
            switch self {
            case .trace: .trace
            case .debug: .debug
            case .info: .info
            case .notice: .notice
            case .warning: .warning
            case .error: .error
            case .critical: .critical
            }
        }
    }

    @Option(
        help: ArgumentHelp(
            "Log to standard error from this level up (trace, debug, info, notice, warning, error, critical); "
                + "default: nothing is logged. Logs never contain a token or a secret.",
            valueName: "level"))
    var logLevel: Level?

    /// A logger writing to standard error at `--log-level`, or `nil` without the flag.
    func makeLogger() -> Logger? {
        guard let logLevel else { return nil }
        var logger = Logger(label: "oauth-broker", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = logLevel.level
        return logger
    }
}

/// A loaded provider file, an open store and a broker over them.
struct BrokerContext {
    let providerFile: ProviderFile
    let storeURL: StoreURL
    let broker: CLIBroker
}

/// The broker the commands use, over the transport `--transport` chose.
typealias CLIBroker = Broker<SelectedTransport, SelectedTransportErrorMapper>

/// `--tenant T --principal P [--scope "a b"]`: one stored token.
struct KeyOptions: ParsableArguments {
    @Option(help: "The tenant.")
    var tenant: String

    @Option(help: "The principal (a user or service account) inside the tenant.")
    var principal: String

    @Option(
        help: ArgumentHelp(
            "Scopes, separated by spaces; may be repeated. Order and duplicates do not matter.", valueName: "scopes"))
    var scope: [String] = []

    /// The key for this tenant, principal and scope set at `broker`'s provider.
    func key(for broker: CLIBroker) throws -> StoreKey {
        let scopes = scope.flatMap { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
        do {
            return try broker.key(tenant: tenant, principal: principal, scopes: scopes)
        } catch let error as BrokerError {
            throw BrokerError(error.code, "--tenant/--principal/--scope: \(error.message)")
        }
    }
}

/// How a key reads in messages: `tenant/principal [scopes]`.
func describe(_ key: StoreKey) -> String {
    "\(key.tenant)/\(key.principal)" + (key.scopes.isEmpty ? "" : " [\(key.scopes.normalized)]")
}

/// An expiry as the commands print it.
func describe(expiry: Date?) -> String {
    expiry.map { "expires_at \(RFC3339.string(from: $0))" } ?? "no expiry"
}
