public import OAuthBroker
import PostgresNIO

extension PostgresStore {
    /// Whether a ``PostgresStore`` talks TLS to the server (with the system's trust roots).
    public struct TLS: Sendable, Hashable, CustomStringConvertible {
        private enum Mode: String, Sendable { case disable, prefer, require }
        private let mode: Mode

        /// Plain TCP: loopback or a private network only.
        public static let disable = TLS(mode: .disable)
        /// TLS when the server offers it, else plain TCP.
        public static let prefer = TLS(mode: .prefer)
        /// TLS, verifying the server's certificate and host name; fails if the server does not offer it.
        public static let require = TLS(mode: .require)

        /// The `sslmode` spelling: `disable`, `prefer`, `require`.
        public var description: String { mode.rawValue }

        /// The mode named by a URL's `sslmode`, or `nil`.
        init?(sslMode: String) {
            guard let mode = Mode(rawValue: sslMode) else { return nil }
            self.mode = mode
        }

        private init(mode: Mode) { self.mode = mode }

        var clientTLS: PostgresClient.Configuration.TLS {
            switch mode {
            case .disable: return .disable
            case .prefer: return .prefer(.makeClientConfiguration())
            case .require: return .require(.makeClientConfiguration())
            }
        }

        func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
            switch mode {
            case .disable: return .disable
            case .prefer: return .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: return .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        }
    }

    /// Where a ``PostgresStore`` that owns its `PostgresClient` connects, how it authenticates and times out.
    ///
    /// ``init(url:)`` reads `postgres://user[:password]@host[:port]/database[?option=value&…]`.
    ///
    /// - Important: ``password`` is a `Secret`: no description, error or log line ever shows it.
    public struct Configuration: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
        /// The server's host name or IP address. Default `127.0.0.1`.
        public var host: String = "127.0.0.1"
        /// The server's TCP port. Default 5432.
        public var port: Int = 5432
        /// The role to log in as. Default `postgres`.
        public var username: String = "postgres"
        /// The role's password; `nil` sends none (trust or peer authentication).
        public var password: Secret?
        /// The database; `nil` uses the role's name, as libpq does.
        public var database: String?
        /// The schema holding the store's tables, created if missing; `nil` uses the server's `search_path`
        /// (normally `public`). Lower-case letters, digits and `_`, starting with a letter or `_`, at most 63 bytes.
        /// The store's connections get it as their `search_path`.
        public var schema: String?
        /// Whether connections use TLS. Default `.disable` (loopback or a private network); use `.require(…)` over
        /// any other network.
        public var tls: TLS = .disable
        /// The longest a TCP connect may take. Default 5 s.
        public var connectTimeout: Duration = .seconds(5)
        /// The longest one store call may take, waiting for a pooled connection included. Past it the call throws
        /// ``OAuthBroker/BrokerError/Code/storeUnavailable``. Default 10 s.
        public var operationTimeout: Duration = .seconds(10)
        /// The most connections the client opens at a time. Default 20.
        public var maximumConnections: Int = 20

        /// Creates the default configuration: `postgres@127.0.0.1:5432`, no password.
        public init() {}

        /// Creates a configuration.
        /// - Parameters:
        ///   - host: The server's host name or IP address.
        ///   - port: The server's TCP port.
        ///   - username: The role to log in as.
        ///   - password: The role's password, or `nil`.
        ///   - database: The database, or `nil` for the role's name.
        ///   - schema: The schema of the store's tables, or `nil` for the server's `search_path`.
        public init(
            host: String, port: Int = 5432, username: String, password: Secret? = nil, database: String? = nil,
            schema: String? = nil
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.schema = schema
        }

        /// Reads a `postgres://` (or `postgresql://`) URL.
        ///
        /// The form is `postgres://user[:password]@host[:port]/database[?option=value&…]`; the user, password and
        /// database are percent-decoded, an IPv6 host goes in brackets. The port defaults to 5432 and the database
        /// to the user's name. Options: `schema`, `sslmode` (`disable`, `prefer` or `require`),
        /// `connect_timeout` (seconds, as libpq), `operation_timeout_ms`, `pool_size`.
        ///
        /// - Parameter url: The URL.
        /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for another
        ///   scheme, a missing user, a bad port, bad percent-encoding or an unknown option. The message never
        ///   contains the password.
        public init(url: String) throws {
            self = try PostgresURLParser.parse(url)
        }

        /// Checks every value.
        /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) naming the
        ///   first bad setting.
        public func validate() throws {
            func require(_ condition: Bool, _ message: String) throws {
                if !condition { throw BrokerError(.invalidConfiguration, "PostgresStore: \(message)") }
            }
            try require(!host.isEmpty && !host.utf8.contains(0), "host must not be empty or contain NUL")
            try require((1...65535).contains(port), "port must be in 1...65535")
            try require(!username.isEmpty && !username.utf8.contains(0), "username must not be empty or contain NUL")
            try require(database.map { !$0.utf8.contains(0) } ?? true, "database must not contain NUL")
            if let schema { try require(PostgresSchema.isValidName(schema), PostgresSchema.nameRule) }
            try require(connectTimeout > .zero, "connectTimeout must be positive")
            try require(operationTimeout > .zero, "operationTimeout must be positive")
            try require((1...1000).contains(maximumConnections), "maximumConnections must be in 1...1000")
        }

        /// `postgres://user:<redacted>@host:port/database` and the schema; never the password.
        public var description: String {
            var text = "postgres://\(username)"
            if password != nil { text += ":<redacted>" }
            let hostText = host.contains(":") ? "[\(host)]" : host
            text += "@\(hostText):\(port)/\(database ?? username)"
            return "PostgresStore.Configuration(\(text), schema: \(schema ?? "<search_path>"))"
        }

        /// Same as ``description``, with the timeouts and pool size.
        public var debugDescription: String {
            description.dropLast()
                + ", connectTimeout: \(connectTimeout), operationTimeout: \(operationTimeout), "
                + "maximumConnections: \(maximumConnections))"
        }

        /// The postgres-nio client configuration (the password revealed only here).
        var clientConfiguration: PostgresClient.Configuration {
            var configuration = PostgresClient.Configuration(
                host: host, port: port, username: username, password: password?.revealedValue, database: database,
                tls: tls.clientTLS)
            configuration.options.connectTimeout = connectTimeout
            configuration.options.maximumConnections = maximumConnections
            if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
            return configuration
        }

        /// The configuration of one direct connection (migrations), matching ``clientConfiguration``.
        func connectionConfiguration() throws -> PostgresConnection.Configuration {
            var configuration = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password?.revealedValue, database: database,
                tls: try tls.connectionTLS())
            let millis = max(
                1,
                Int64(connectTimeout.components.seconds) * 1000
                    + connectTimeout.components.attoseconds / 1_000_000_000_000_000)
            configuration.options.connectTimeout = .milliseconds(millis)
            if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
            return configuration
        }

    }
}
