import OAuthBroker

/// Turns a Redis error reply (`-CODE text`) into a ``BrokerError`` with the right code.
enum RedisErrorMapping {
    /// Error codes that clear up by themselves: a server loading its dataset, a busy script, a failover.
    private static let transientCodes: Set<Substring> = [
        "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY", "OOM",
    ]
    /// Error codes that mean the configuration (credentials, ACL rules) is wrong.
    private static let configurationCodes: Set<Substring> = ["NOAUTH", "WRONGPASS", "NOPERM"]

    /// The error code: the first word of the reply (`ERR`, `WRONGTYPE`, `NOSCRIPT`, …).
    static func code(of message: String) -> Substring {
        message.prefix { $0 != " " }
    }

    /// Whether retrying later can succeed.
    static func isTransient(_ message: String) -> Bool {
        transientCodes.contains(code(of: message))
    }

    /// The ``BrokerError`` for an error reply received during `operation`.
    static func error(_ message: String, during operation: String, key: StoreKey? = nil) -> BrokerError {
        let code = code(of: message)
        if transientCodes.contains(code) {
            return BrokerError(
                .storeUnavailable, "Redis is temporarily unable to serve \(operation): \(code)", key: key)
        }
        if configurationCodes.contains(code) {
            // The server's text is dropped: it may quote the command, and the command may hold a secret.
            return BrokerError(
                .invalidConfiguration, "Redis refused \(operation): \(code) (check the credentials and ACL rules)",
                key: key)
        }
        if code == "MOVED" || code == "ASK" {
            return BrokerError(
                .storeFailed, "Redis answered \(operation) with a cluster redirection; Redis Cluster is not supported",
                key: key)
        }
        let shown = message.count > 200 ? message.prefix(200) + "…" : Substring(message)
        return BrokerError(.storeFailed, "Redis refused \(operation): \(shown)", key: key)
    }
}
