public import OAuthBroker

extension RedisStore {
    /// Where a ``RedisStore`` connects, how it authenticates, namespaces its keys and times out.
    ///
    /// A `Sendable` struct of settings with defaults; ``RedisStore/init(configuration:codec:)`` validates it.
    /// ``init(url:)`` reads the usual `redis://[user:password@]host[:port][/db]` form.
    ///
    /// - Important: ``password`` is a `Secret`: no description, error or log line ever shows it.
    public struct Configuration: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
        /// The server's host name or IP address. Default `127.0.0.1`.
        public var host: String = "127.0.0.1"
        /// The server's TCP port. Default 6379.
        public var port: Int = 6379
        /// The logical database selected on connect (`SELECT`). Default 0.
        public var database: Int = 0
        /// The ACL user (Redis 6 and later) sent with `AUTH`; `nil` authenticates as the default user.
        public var username: String?
        /// The password sent with `AUTH`; `nil` sends no `AUTH`.
        public var password: Secret?
        /// Prepended to every Redis key the store uses, so several applications share one database.
        /// Must not contain `{` or `}` (the store puts Redis Cluster hash tags after it). Default `oauth-broker:`.
        public var keyPrefix: String = "oauth-broker:"
        /// The longest a TCP connect (with `AUTH` and `SELECT` bounded by ``commandTimeout``) may take. Default 2 s.
        public var connectTimeout: Duration = .seconds(2)
        /// The longest one command may wait for the server's reply; past it the connection is dropped and the
        /// operation throws ``OAuthBroker/BrokerError/Code/storeUnavailable``. Default 2 s.
        public var commandTimeout: Duration = .seconds(2)
        /// The most connections open at a time (opened lazily, as concurrency needs them); further operations wait
        /// for one to come free. Default 16: at 16 concurrent tasks it doubled reads per second over 4.
        public var poolSize: Int = 16
        /// The longest an operation waits for a free connection when all ``poolSize`` are busy, before throwing
        /// ``OAuthBroker/BrokerError/Code/storeUnavailable``. Default 5 s.
        public var poolTimeout: Duration = .seconds(5)
        /// The `COUNT` hint of each `SCAN` call that ``RedisStore/keys(tenant:)`` makes. Default 256.
        public var scanCount: Int = 256
        /// A name set with `CLIENT SETNAME` on every connection (shown by `CLIENT LIST`); `nil`, the default,
        /// sets none. No spaces.
        public var clientName: String?

        /// Creates the default configuration: `127.0.0.1:6379`, database 0, no authentication.
        public init() {}

        /// Creates a configuration.
        /// - Parameters:
        ///   - host: The server's host name or IP address.
        ///   - port: The server's TCP port.
        ///   - database: The logical database to select.
        ///   - username: The ACL user, or `nil` for the default user.
        ///   - password: The password, or `nil` for none.
        ///   - keyPrefix: The prefix of every key the store uses.
        public init(
            host: String, port: Int = 6379, database: Int = 0, username: String? = nil, password: Secret? = nil,
            keyPrefix: String = "oauth-broker:"
        ) {
            self.host = host
            self.port = port
            self.database = database
            self.username = username
            self.password = password
            self.keyPrefix = keyPrefix
        }

        /// Reads a `redis://` URL.
        ///
        /// The form is `redis://[[user]:password@]host[:port][/database][?option=value&…]`. The user and password
        /// are percent-decoded (write `%40` for `@`, `%3A` for `:`, `%2F` for `/`, `%25` for `%`); an IPv6 host
        /// goes in brackets (`redis://[::1]:6379`). The port defaults to 6379 and the database to 0. Options:
        /// `prefix` (``keyPrefix``, percent-decoded), `pool_size`, `connect_timeout_ms`, `command_timeout_ms`,
        /// `pool_timeout_ms`, `client_name`.
        ///
        /// - Parameter url: The URL.
        /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for
        ///   another scheme (`rediss://` is not supported), a bad port or database, bad percent-encoding or an
        ///   unknown option. The message never contains the password.
        public init(url: String) throws {
            self = try RedisURLParser.parse(url)
        }

        /// Checks every value.
        /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) naming the
        ///   first bad setting.
        public func validate() throws {
            func require(_ condition: Bool, _ message: String) throws {
                if !condition { throw BrokerError(.invalidConfiguration, "RedisStore: \(message)") }
            }
            try require(!host.isEmpty, "host must not be empty")
            try require(!host.utf8.contains(0), "host must not contain NUL")
            try require((1...65535).contains(port), "port must be in 1...65535")
            try require(database >= 0 && database <= Int(Int32.max), "database must be a non-negative 32-bit number")
            try require(
                !keyPrefix.contains("{") && !keyPrefix.contains("}"),
                "keyPrefix must not contain '{' or '}' (the store adds Redis Cluster hash tags)")
            try require(connectTimeout > .zero, "connectTimeout must be positive")
            try require(commandTimeout > .zero, "commandTimeout must be positive")
            try require(poolTimeout > .zero, "poolTimeout must be positive")
            try require(poolSize >= 1 && poolSize <= 1024, "poolSize must be in 1...1024")
            try require(scanCount >= 1, "scanCount must be at least 1")
            try require(username == nil || password != nil, "a username needs a password")
            if let clientName {
                try require(
                    !clientName.isEmpty && clientName.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F },
                    "clientName must be printable ASCII without spaces")
            }
        }

        /// `redis://user:<redacted>@host:port/db` and the prefix; never the password.
        public var description: String {
            var text = "redis://"
            if password != nil { text += "\(username ?? ""):<redacted>@" }
            let hostText = host.contains(":") ? "[\(host)]" : host
            text += "\(hostText):\(port)/\(database)"
            return "RedisStore.Configuration(\(text), keyPrefix: \"\(keyPrefix)\", poolSize: \(poolSize))"
        }

        /// Same as ``description``, with the timeouts.
        public var debugDescription: String {
            description.dropLast()
                + ", connectTimeout: \(connectTimeout), commandTimeout: \(commandTimeout), poolTimeout: \(poolTimeout))"
        }
    }
}
