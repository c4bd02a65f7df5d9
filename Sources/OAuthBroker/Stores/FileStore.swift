public import Foundation

/// A ``BrokerStore`` in one JSON file, safe to share between processes on one machine.
///
/// - Every operation takes an advisory `flock` on `<path>.lock` (shared to read, exclusive to write) and reads
///   the file again under it: an in-memory copy is never trusted, so processes sharing the file never lose each
///   other's writes. The parsed document is reused only when the bytes read equal the bytes it came from.
/// - A write replaces the whole file crash-safely: a uniquely named temporary file in the same directory is
///   written, `fsync`ed, renamed over the file, and the directory is `fsync`ed. A process killed at any point
///   leaves the previous or the new document, never a torn one. Both files are created with mode `0600`.
/// - A file that is not a valid store (garbage, truncated, empty) makes the operation throw
///   ``BrokerError/Code/storeCorrupted`` after the file is renamed to `<path>.corrupt-<unix-ms>`: the data is
///   kept for inspection, and the store starts empty afterwards. A file written by a newer release (a higher
///   format version) is left untouched and every operation fails with ``BrokerError/Code/storeFailed``.
/// - Blocking I/O runs on a private serial `DispatchQueue`, never on the cooperative pool.
/// - Refresh leases are stored in the file with wall-clock expiry, so ``providesRefreshLeases`` is `true`.
///
/// Each write rewrites the whole file (two `fsync`s), so the store suits up to some thousands of records and
/// a modest write rate; use `SQLiteStore` or `RedisStore` beyond that. `flock` is reliable on local file
/// systems only: do not share the file over NFS.
///
/// The file format (version 1) is documented on ``FileStore/formatVersion``; record and session blobs are
/// produced by the configured ``StoreCodec``.
public final class FileStore: ResealableStore {
    /// How a ``FileStore`` is set up.
    public struct Configuration: Sendable {
        /// The store file. Its directory must exist; the file and `<path>.lock` are created on first use.
        public var path: String
        /// How long an operation waits for the file lock before failing with
        /// ``BrokerError/Code/storeUnavailable``. Default 10 seconds.
        public var lockTimeout: Duration
        /// Encodes records and sessions. Default ``JSONStoreCodec``.
        public var codec: any StoreCodec

        /// Creates a configuration.
        /// - Parameters:
        ///   - path: The store file.
        ///   - lockTimeout: The longest wait for the file lock.
        ///   - codec: The record and session codec.
        public init(path: String, lockTimeout: Duration = .seconds(10), codec: any StoreCodec = JSONStoreCodec()) {
            self.path = path
            self.lockTimeout = lockTimeout
            self.codec = codec
        }
    }

    /// The file format version this release writes and reads: `1`.
    ///
    /// ```json
    /// {"format": "oauth-broker-file-store", "format_version": 1,
    ///  "records":  {"<storageID>": {"key": {"provider": "p", "tenant": "t", "principal": "u", "scopes": ["a"]},
    ///                               "version": 1831975315128321, "blob": "<base64 StoreCodec record blob>"}},
    ///  "sessions": {"<session id>": {"expires_at": 799996700.5, "blob": "<base64 StoreCodec session blob>"}},
    ///  "leases":   {"<storageID>": {"owner": "<LeaseOwner>", "expires_at_ms": 1712345678901}}}
    /// ```
    /// `version` repeats the record blob's version; session `expires_at` is seconds since 2001-01-01 UTC; lease
    /// `expires_at_ms` is wall-clock milliseconds since 1970 UTC. Keys are sorted; there is no other whitespace.
    public static let formatVersion = FileDocument.formatVersion

    /// The configuration in use.
    public let configuration: Configuration
    private let engine: FileStoreEngine
    private let now: @Sendable () -> Date

    /// Creates a store over `configuration.path`. No I/O happens until the first operation.
    /// - Parameters:
    ///   - configuration: The file, lock timeout and codec.
    ///   - now: The wall clock for session expiry and lease time-to-live; the system clock by default.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) for an empty path, a path ending in
    ///   `/`, or a negative lock timeout.
    public init(configuration: Configuration, now: @escaping @Sendable () -> Date = { Date() }) throws {
        guard !configuration.path.isEmpty, !configuration.path.hasSuffix("/") else {
            throw BrokerError(.invalidConfiguration, "a file store path must name a file")
        }
        guard configuration.lockTimeout >= .zero else {
            throw BrokerError(.invalidConfiguration, "the file store lock timeout must not be negative")
        }
        self.configuration = configuration
        self.now = now
        engine = FileStoreEngine(path: configuration.path, lockTimeout: configuration.lockTimeout)
    }

    /// Creates a store over the file at `path` with the default configuration.
    /// - Parameter path: The store file; its directory must exist.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) for an invalid path.
    public convenience init(path: String) throws {
        try self.init(configuration: Configuration(path: path))
    }

    private var codec: any StoreCodec { configuration.codec }

    /// `file`.
    public var kind: String { "file" }

    /// `true`: leases live in the file, shared by every process that opens it.
    public var providesRefreshLeases: Bool { true }

    /// The record for `key`, or `nil`.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func record(for key: StoreKey) async throws -> TokenRecord? {
        let id = key.storageID
        let entry = try await engine.read { $0.records[id] }
        return try entry?.decode(codec: codec)
    }

    /// Stores `record` if the key has none.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome {
        let codec = self.codec
        let entry = try FileDocument.RecordEntry(record, key: key, codec: codec)
        return try await engine.update { document in
            if let current = document.records[key.storageID] {
                return (.exists(current: try current.decode(codec: codec)), false)
            }
            document.records[key.storageID] = entry
            return (.inserted(record), true)
        }
    }

    /// Replaces the record if its version is `expected`, storing version `expected + 1`.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome
    {
        let codec = self.codec
        var stored = new
        stored.version = expected &+ 1
        let entry = try FileDocument.RecordEntry(stored, key: key, codec: codec)
        return try await engine.update { [stored] document in
            guard let current = document.records[key.storageID] else { return (.missing, false) }
            guard current.version == expected else {
                return (.conflict(current: try current.decode(codec: codec)), false)
            }
            document.records[key.storageID] = entry
            return (.swapped(stored), true)
        }
    }

    /// Sets the status and bumps the version in one locked read-modify-write.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord? {
        let codec = self.codec
        return try await engine.update { document in
            guard let entry = document.records[key.storageID] else { return (nil, false) }
            var record = try entry.decode(codec: codec)
            guard record.status != status else { return (record, false) }
            record.status = status
            record.version &+= 1
            document.records[key.storageID] = try FileDocument.RecordEntry(record, key: key, codec: codec)
            return (record, true)
        }
    }

    /// Deletes the record.
    /// - Returns: Whether a record existed.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    @discardableResult
    public func deleteRecord(for key: StoreKey) async throws -> Bool {
        try await engine.update { document in
            let existed = document.records.removeValue(forKey: key.storageID) != nil
            return (existed, existed)
        }
    }

    /// Keys in ``StoreKey/storageID`` order (UTF-8 byte order), optionally of one tenant.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func keys(tenant: TenantID?) async throws -> [StoreKey] {
        let keys = try await engine.read { document in document.records.values.map(\.key) }
        return keys.filter { tenant == nil || $0.tenant == tenant }
            .sorted { $0.storageID.utf8.lexicographicallyPrecedes($1.storageID.utf8) }
    }

    /// Saves a session, deleting sessions that have already expired.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func saveSession(_ session: AuthorizationSession) async throws {
        let entry = try FileDocument.SessionEntry(session, codec: codec)
        let now = self.now
        try await engine.update { document in
            let instant = now()
            document.sessions = document.sessions.filter { !$0.value.isExpired(at: instant) }
            document.sessions[session.id] = entry
            return ((), true)
        }
    }

    /// Removes and returns the session if it has not expired.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func takeSession(id: String) async throws -> AuthorizationSession? {
        let codec = self.codec
        let now = self.now
        return try await engine.update { document in
            let instant = now()
            guard let entry = document.sessions.removeValue(forKey: id) else { return (nil, false) }
            if entry.isExpired(at: instant) { return (nil, true) }
            return (try entry.decode(id: id, codec: codec), true)
        }
    }

    /// Re-encodes every unexpired session through the codec in one locked read-modify-write: all are decoded
    /// before the file is rewritten, so a session that cannot be decoded leaves the file as it was.
    /// - Returns: How many sessions were re-encoded.
    /// - Throws: ``BrokerError`` for I/O failures, a corrupt file, or a session the codec cannot decode.
    public func resealSessions() async throws -> Int {
        let codec = self.codec
        let now = self.now
        return try await engine.update { document in
            let instant = now()
            var resealed: [String: FileDocument.SessionEntry] = [:]
            for (id, entry) in document.sessions where !entry.isExpired(at: instant) {
                resealed[id] = try FileDocument.SessionEntry(entry.decode(id: id, codec: codec), codec: codec)
            }
            document.sessions.merge(resealed) { $1 }
            return (resealed.count, !resealed.isEmpty)
        }
    }

    /// Deletes sessions expired at `instant`.
    /// - Returns: How many were deleted.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    @discardableResult
    public func purgeExpiredSessions(before instant: Date) async throws -> Int {
        try await engine.update { document in
            let before = document.sessions.count
            document.sessions = document.sessions.filter { !$0.value.isExpired(at: instant) }
            let purged = before - document.sessions.count
            return (purged, purged > 0)
        }
    }

    /// Takes or renews the lease unless another owner holds an unexpired one; expired leases of other keys are
    /// dropped on the way.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func acquireRefreshLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool {
        let now = self.now
        return try await engine.update { document in
            // Read the clock under the lock: the wait for the lock must not shorten the lease.
            let current = now()
            let instant = FileDocument.LeaseEntry.millis(current)
            let expiry = FileDocument.LeaseEntry.millisRoundedUp(current.addingTimeInterval(ttl.timeInterval))
            let id = key.storageID
            if let lease = document.leases[id], lease.owner != owner.rawValue, lease.expiresAtMillis > instant {
                return (false, false)
            }
            document.leases = document.leases.filter { $0.value.expiresAtMillis > instant }
            document.leases[id] = FileDocument.LeaseEntry(owner: owner.rawValue, expiresAtMillis: expiry)
            return (true, true)
        }
    }

    /// Releases the lease if `owner` holds it.
    /// - Throws: ``BrokerError`` for I/O failures or a corrupt file.
    public func releaseRefreshLease(for key: StoreKey, owner: LeaseOwner) async throws {
        try await engine.update { document in
            guard document.leases[key.storageID]?.owner == owner.rawValue else { return ((), false) }
            document.leases.removeValue(forKey: key.storageID)
            return ((), true)
        }
    }
}
