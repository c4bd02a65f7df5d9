import OAuthBroker

/// Parses `redis://[[user]:password@]host[:port][/database][?option=value&…]` into a configuration.
///
/// Hand-written rather than Foundation's `URLComponents`, so every rejection has a precise message and no message
/// ever quotes the URL (which may hold the password).
enum RedisURLParser {
    static func parse(_ url: String) throws -> RedisStore.Configuration {
        func fail(_ message: String) -> BrokerError {
            BrokerError(.invalidConfiguration, "Redis URL: \(message)")
        }
        let scheme = "redis://"
        guard url.lowercased().hasPrefix(scheme) else {
            if url.lowercased().hasPrefix("rediss://") { throw fail("TLS (rediss://) is not supported") }
            throw fail("the scheme must be redis://")
        }
        let (rest, path, query) = try StoreURLText.split(
            afterScheme: url.dropFirst(scheme.count), fail: fail)
        var configuration = RedisStore.Configuration()
        var hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw fail("the user info must be user:password or :password")
            }
            let user = try StoreURLText.decode(userInfo[..<colon], what: "user name", fail: fail)
            let password = try StoreURLText.decode(
                userInfo[userInfo.index(after: colon)...], what: "password", fail: fail)
            guard !password.isEmpty else { throw fail("the password is empty") }
            configuration.username = user.isEmpty ? nil : user
            configuration.password = Secret(password)
        }

        let (host, port) = try StoreURLText.hostAndPort(
            hostPort, reserved: "[]@%:", reservedMessage: "the host contains a reserved character", fail: fail)
        configuration.host = host
        if let port { configuration.port = port }

        if !path.isEmpty {
            guard let database = StoreURLText.number(path, max: Int(Int32.max)) else {
                throw fail("the path must be a database number (/0, /1, …)")
            }
            configuration.database = database
        }
        if let query { try applyOptions(query, to: &configuration, fail: fail) }
        try configuration.validate()
        return configuration
    }

    private static func applyOptions(
        _ query: Substring, to configuration: inout RedisStore.Configuration, fail: (String) -> BrokerError
    ) throws {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "=") else { throw fail("an option lacks '=value'") }
            let name = String(pair[..<equals])
            let value = pair[pair.index(after: equals)...]
            func milliseconds() throws -> Duration {
                guard let ms = StoreURLText.number(value, max: 86_400_000), ms > 0 else {
                    throw fail("option \(name) must be a positive number of milliseconds")
                }
                return .milliseconds(ms)
            }
            switch name {
            case "prefix": configuration.keyPrefix = try StoreURLText.decode(value, what: "prefix", fail: fail)
            case "client_name":
                configuration.clientName = try StoreURLText.decode(value, what: "client name", fail: fail)
            case "pool_size":
                guard let size = StoreURLText.number(value, max: 1024), size >= 1 else {
                    throw fail("option pool_size must be a number in 1...1024")
                }
                configuration.poolSize = size
            case "connect_timeout_ms": configuration.connectTimeout = try milliseconds()
            case "command_timeout_ms": configuration.commandTimeout = try milliseconds()
            case "pool_timeout_ms": configuration.poolTimeout = try milliseconds()
            default:
                // The name is not quoted: whatever a mangled URL put there might be a secret.
                throw fail(
                    "unknown option (supported: prefix, client_name, pool_size, connect_timeout_ms, "
                        + "command_timeout_ms, pool_timeout_ms)")
            }
        }
    }
}
