import NIOCore
import OAuthBroker
import PostgresNIO

/// Turns postgres-nio and NIO errors into ``BrokerError``s with the right code.
///
/// | cause | code |
/// |---|---|
/// | connection refused, reset or closed; connect timeout; the pool giving up on connecting; SQLSTATE class `08` (connection exception), `53` (insufficient resources), `57P01`–`57P03` (shutdown, crash, starting up); `40001`/`40P01` (serialization failure, deadlock) | `storeUnavailable` (transient) |
/// | SQLSTATE class `28` (bad password, unknown role), `3D000` (unknown database), `3F000` (unknown schema), `42501` (no privilege); TLS refused by the server; an authentication method that needs a password when none is set | `invalidConfiguration` |
/// | a column that does not decode | `storeCorrupted` |
/// | the store was shut down | `storeFailed` |
/// | anything else from the server | `storeFailed`, with the SQLSTATE |
///
/// Messages name the operation and the SQLSTATE, never the query's bound values (which hold token blobs) or the
/// password; postgres-nio's own `PSQLError` description is generic for the same reason, and is not kept.
enum PostgresErrorMapping {
    static func error(_ error: any Error, during operation: String, key: StoreKey? = nil) -> any Error {
        if let error = error as? BrokerError { return error }
        if error is CancellationError { return error }
        if let error = error as? PSQLError { return map(error, during: operation, key: key) }
        if error is PostgresDecodingError {
            return BrokerError(.storeCorrupted, "a PostgreSQL row did not decode during \(operation)", key: key)
        }
        if error is IOError || error is ChannelError {
            return unavailable("the connection failed", during: operation, key: key)
        }
        // The pool's own error (its module is not public API): it gave up on connecting, for example after its
        // connect attempts kept failing. Matched by name.
        if String(describing: type(of: error)) == "ConnectionPoolError" {
            return unavailable("the connection pool could not connect", during: operation, key: key)
        }
        return BrokerError(.storeFailed, "PostgreSQL failed during \(operation) (\(type(of: error)))", key: key)
    }

    private static func unavailable(_ reason: String, during operation: String, key: StoreKey?) -> BrokerError {
        BrokerError(.storeUnavailable, "PostgreSQL is unavailable during \(operation): \(reason)", key: key)
    }

    private static func map(_ error: PSQLError, during operation: String, key: StoreKey?) -> BrokerError {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?????"
            return server(state: state, message: error.serverInfo?[.message], during: operation, key: key)
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .queryCancelled,
            .receivedUnencryptedDataAfterSSLRequest, .failedToAddSSLHandler:
            if let inner = error.underlying as? PSQLError, inner.code == .server {
                return map(inner, during: operation, key: key)
            }
            return unavailable("\(error.code)", during: operation, key: key)
        case .sslUnsupported:
            return BrokerError(
                .invalidConfiguration, "the PostgreSQL server does not offer TLS, which sslmode=require needs",
                key: key)
        case .authMechanismRequiresPassword, .unsupportedAuthMechanism, .saslError:
            return BrokerError(
                .invalidConfiguration,
                "PostgreSQL authentication failed during \(operation) (\(error.code): check the password)", key: key)
        case .poolClosed, .clientClosedConnection:
            return BrokerError(.storeFailed, "the PostgreSQL store was shut down (\(operation))", key: key)
        default:
            return BrokerError(.storeFailed, "PostgreSQL failed during \(operation) (\(error.code))", key: key)
        }
    }

    /// Maps an error the server sent (an `ErrorResponse`) by its SQLSTATE.
    static func server(state: String, message: String?, during operation: String, key: StoreKey?) -> BrokerError {
        let sqlClass = state.prefix(2)
        switch true {
        case sqlClass == "28":
            // 28P01 also stands for an unknown role: the server does not tell a client which one it was.
            return BrokerError(
                .invalidConfiguration,
                "PostgreSQL rejected the login (SQLSTATE \(state): wrong password or unknown role)", key: key)
        case state == "3D000":
            return BrokerError(
                .invalidConfiguration, "the PostgreSQL database does not exist (SQLSTATE 3D000)", key: key)
        case state == "3F000":
            return BrokerError(.invalidConfiguration, "the PostgreSQL schema does not exist (SQLSTATE 3F000)", key: key)
        case state == "42501":
            return BrokerError(
                .invalidConfiguration,
                "the PostgreSQL role lacks a privilege the store needs during \(operation) (SQLSTATE 42501)", key: key)
        case sqlClass == "08" || sqlClass == "53" || ["57P01", "57P02", "57P03", "40001", "40P01"].contains(state):
            return unavailable("SQLSTATE \(state)", during: operation, key: key)
        default:
            // The primary message names objects, not values (those are in DETAIL, which is not kept).
            let shown = (message ?? "").prefix(200)
            return BrokerError(
                .storeFailed, "PostgreSQL refused \(operation): SQLSTATE \(state) \(shown)", key: key)
        }
    }
}
