import CSQLite
import OAuthBroker

/// A value bound to a statement parameter.
enum SQLiteValue {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One open `sqlite3*` with its cache of prepared statements.
///
/// Not `Sendable`: the connection is confined to ``SQLiteConnectionActor``, whose serial executor is the only
/// thread that touches it. The handle and statements are freed exactly once, in `deinit`.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    /// Opens (creating if needed) the database at `path`.
    init(path: String, busyTimeout: Duration) throws {
        self.path = path
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard let opened else { throw BrokerError(.storeFailed, "sqlite3_open_v2 could not allocate (\(path))") }
        guard code == SQLITE_OK else {
            let error = Self.error(code, message: String(cString: sqlite3_errmsg(opened)), what: "open \(path)")
            sqlite3_close_v2(opened)
            throw error
        }
        handle = opened
        sqlite3_extended_result_codes(handle, 1)
        let (seconds, attoseconds) = busyTimeout.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(handle, Int32(clamping: milliseconds))
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs SQL with no parameters and no results (pragmas, DDL, transaction control), uncached.
    func execute(_ sql: String) throws {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw error(code, "execute") }
    }

    /// Runs a cached prepared statement, calling `row` for each result row.
    func run(_ sql: String, _ bindings: [SQLiteValue] = [], row: (SQLiteRow) throws -> Void = { _ in }) throws {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in bindings.enumerated() {
            let position = Int32(index + 1)
            let code: Int32
            switch value {
            case .integer(let integer): code = sqlite3_bind_int64(statement, position, integer)
            case .real(let real): code = sqlite3_bind_double(statement, position, real)
            case .text(let text): code = sqlite3_bind_text(statement, position, text, -1, csqlite_transient())
            case .blob(let bytes):
                code = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(
                        statement, position, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                        Int32($0.count), csqlite_transient())
                }
            }
            guard code == SQLITE_OK else { throw error(code, "bind") }
        }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code, "step") }
            try row(SQLiteRow(statement: statement))
        }
    }

    /// The rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in `BEGIN IMMEDIATE … COMMIT`, rolling back if it throws.
    ///
    /// `IMMEDIATE` takes the write lock up front (waiting up to the busy timeout), so a read-modify-write never
    /// fails half-way with `SQLITE_BUSY` when upgrading a read transaction.
    func immediateTransaction<T>(_ body: () throws -> T) throws -> T {
        try run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 { sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
            throw error
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else { throw error(code, "prepare") }
        statements[sql] = statement
        return statement
    }

    private func error(_ code: Int32, _ what: String) -> BrokerError {
        Self.error(code, message: String(cString: sqlite3_errmsg(handle)), what: "\(what) on \(path)")
    }

    /// Maps an SQLite result code to a ``BrokerError``: busy or locked past the timeout → `storeUnavailable`;
    /// corrupt or not a database → `storeCorrupted`; anything else → `storeFailed`. SQLite's messages name
    /// tables and columns, never bound values.
    static func error(_ code: Int32, message: String, what: String) -> BrokerError {
        let primary = code & 0xFF
        let text = "SQLite \(what) failed: \(message) (code \(code))"
        switch primary {
        case SQLITE_BUSY, SQLITE_LOCKED: return BrokerError(.storeUnavailable, text)
        case SQLITE_CORRUPT, SQLITE_NOTADB: return BrokerError(.storeCorrupted, text)
        default: return BrokerError(.storeFailed, text)
        }
    }
}

/// The current row of a stepping statement; valid only inside the `row` callback.
struct SQLiteRow {
    let statement: OpaquePointer

    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    func real(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }

    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
}
