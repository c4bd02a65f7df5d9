import OAuthBroker

/// Parses `postgres://user[:password]@host[:port]/database[?option=value&…]` into a configuration.
///
/// Hand-written (like the Redis store's parser) so every rejection has a precise message and no message ever
/// quotes the URL, which may hold the password.
enum PostgresURLParser {
    static func parse(_ url: String) throws -> PostgresStore.Configuration {
        func fail(_ message: String) -> BrokerError {
            BrokerError(.invalidConfiguration, "PostgreSQL URL: \(message)")
        }
        let lowered = url.lowercased()
        guard let scheme = ["postgres://", "postgresql://"].first(where: { lowered.hasPrefix($0) }) else {
            throw fail("the scheme must be postgres:// or postgresql://")
        }
        let (rest, path, query) = try StoreURLText.split(
            afterScheme: url.dropFirst(scheme.count), fail: fail)
        var configuration = PostgresStore.Configuration()
        guard let at = rest.lastIndex(of: "@") else { throw fail("the user is missing (postgres://user@host/db)") }
        let userInfo = rest[..<at]
        let hostPort = rest[rest.index(after: at)...]
        if let colon = userInfo.firstIndex(of: ":") {
            configuration.username = try StoreURLText.decode(userInfo[..<colon], what: "user name", fail: fail)
            configuration.password = Secret(
                try StoreURLText.decode(userInfo[userInfo.index(after: colon)...], what: "password", fail: fail))
        } else {
            configuration.username = try StoreURLText.decode(userInfo, what: "user name", fail: fail)
        }
        guard !configuration.username.isEmpty else { throw fail("the user is missing (postgres://user@host/db)") }

        let (host, port) = try StoreURLText.hostAndPort(
            hostPort, reserved: "[]@%:,",
            reservedMessage: "the host contains a reserved character (several hosts are not supported)", fail: fail)
        configuration.host = host
        if let port { configuration.port = port }
        if !path.isEmpty {
            guard !path.contains("/") else { throw fail("the path must be one database name") }
            configuration.database = try StoreURLText.decode(path, what: "database", fail: fail)
        }
        if let query { try applyOptions(query, to: &configuration, fail: fail) }
        try configuration.validate()
        return configuration
    }

    private static func applyOptions(
        _ query: Substring, to configuration: inout PostgresStore.Configuration, fail: (String) -> BrokerError
    ) throws {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "=") else { throw fail("an option lacks '=value'") }
            let name = String(pair[..<equals])
            let value = pair[pair.index(after: equals)...]
            switch name {
            case "schema":
                let schema = try StoreURLText.decode(value, what: "schema", fail: fail)
                guard PostgresSchema.isValidName(schema) else {
                    throw fail("option schema: \(PostgresSchema.nameRule)")
                }
                configuration.schema = schema
            case "sslmode":
                guard let tls = PostgresStore.TLS(sslMode: String(value)) else {
                    throw fail("option sslmode must be disable, prefer or require")
                }
                configuration.tls = tls
            case "connect_timeout":
                guard let seconds = StoreURLText.number(value, max: 86_400), seconds > 0 else {
                    throw fail("option connect_timeout must be a positive number of seconds")
                }
                configuration.connectTimeout = .seconds(seconds)
            case "operation_timeout_ms":
                guard let ms = StoreURLText.number(value, max: 86_400_000), ms > 0 else {
                    throw fail("option operation_timeout_ms must be a positive number of milliseconds")
                }
                configuration.operationTimeout = .milliseconds(ms)
            case "pool_size":
                guard let size = StoreURLText.number(value, max: 1000), size >= 1 else {
                    throw fail("option pool_size must be a number in 1...1000")
                }
                configuration.maximumConnections = size
            default:
                // The name is not quoted: whatever a mangled URL put there might be a secret.
                throw fail(
                    "unknown option (supported: schema, sslmode, connect_timeout, operation_timeout_ms, pool_size)")
            }
        }
    }
}
