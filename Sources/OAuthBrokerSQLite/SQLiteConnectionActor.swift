import Foundation
import OAuthBroker

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns one ``SQLiteConnection`` of a store and runs all its work on a private serial `DispatchQueue`.
///
/// Actor isolation is the connection's confinement: every `sqlite3_*` call (including a wait of up to the busy
/// timeout) parks a Dispatch worker thread, never one of Swift's cooperative threads. Callers make one hop per
/// logical operation (a whole transaction), as a hop costs tens of microseconds.
///
/// A store has one writer actor (which creates and migrates the database) and may have reader actors, whose
/// connections are `query_only` and are opened only after the writer has prepared the schema.
actor SQLiteConnectionActor {
    /// What the connection is for.
    enum Role: Sendable {
        /// Creates the file, migrates the schema, runs every write.
        case writer
        /// Runs single-statement reads only (`PRAGMA query_only`); the schema must already exist.
        case reader(index: Int)
    }

    private nonisolated let executor: DispatchQueueExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let configuration: SQLiteStore.Configuration
    private let role: Role
    private var connection: SQLiteConnection?

    /// Creates the actor; the database is opened by the first ``withConnection(_:)``, on the actor's queue.
    init(configuration: SQLiteStore.Configuration, role: Role = .writer) {
        switch role {
        case .writer: executor = DispatchQueueExecutor(label: "oauth-broker.sqlite")
        case .reader(let index): executor = DispatchQueueExecutor(label: "oauth-broker.sqlite.reader.\(index)")
        }
        self.configuration = configuration
        self.role = role
    }

    /// Runs `body` with the connection, on the actor's queue, opening and migrating the database first if this
    /// is the first use (or the previous open failed).
    func withConnection<T: Sendable>(_ body: @Sendable (SQLiteConnection) throws -> T) throws -> T {
        let connection = try self.connection ?? openConnection()
        return try body(connection)
    }

    private func openConnection() throws -> SQLiteConnection {
        let path = configuration.path
        if case .reader = role {
            let connection = try SQLiteConnection(path: path, busyTimeout: configuration.busyTimeout)
            try connection.execute("PRAGMA query_only=1")
            self.connection = connection
            return connection
        }
        let isFile = path != ":memory:" && !path.hasPrefix("file:")
        if isFile {
            // Create the file with mode 0600 before SQLite does (it would honour the umask, typically 0644), and
            // bring an existing database and its -wal and -shm to 0600 before anything is read from them.
            try SQLiteFileModes.enforce(onDatabase: path)
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw BrokerError(.storeFailed, "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            close(descriptor)
        }
        let connection = try SQLiteConnection(path: path, busyTimeout: configuration.busyTimeout)
        try SQLiteSchema.prepare(connection, synchronous: configuration.synchronous)
        // WAL mode has created -wal and -shm by now (with the database's mode); check them once more.
        if isFile { try SQLiteFileModes.enforce(onDatabase: path) }
        self.connection = connection
        return connection
    }
}
