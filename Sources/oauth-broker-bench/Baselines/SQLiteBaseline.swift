import CSQLite
import Foundation

/// The floor for `store-fetch` on SQLite: the same SELECT by primary key the store runs
/// (`SELECT version, blob FROM oauth_broker_records WHERE storage_id = ?`, schema version 1), through a prepared
/// statement and `sqlite3_step`, copying the blob out, with no broker code, no actor hop and no decoding.
enum SQLiteBaseline {
    /// Each of `threads` threads opens its own connection to `path` and reads the row for `storageID` in a loop
    /// until `duration` has passed.
    static func selectLoop(path: String, storageID: String, threads: Int, duration: Duration) throws -> Throughput {
        try ThreadLoop.run(threads: threads, duration: duration) { _, deadline in
            var db: OpaquePointer?
            guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let db
            else {
                sqlite3_close(db)
                throw BenchError("sqlite3_open_v2 failed for the baseline")
            }
            defer { sqlite3_close(db) }
            sqlite3_busy_timeout(db, 5000)
            var statement: OpaquePointer?
            let sql = "SELECT version, blob FROM oauth_broker_records WHERE storage_id = ?"
            guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
                let statement
            else { throw BenchError("sqlite3_prepare_v3 failed: \(String(cString: sqlite3_errmsg(db)))") }
            defer { sqlite3_finalize(statement) }
            var count = 0
            var sink = 0
            while ContinuousClock.now < deadline {
                for _ in 0..<64 {
                    sqlite3_bind_text(statement, 1, storageID, -1, csqlite_transient())
                    guard sqlite3_step(statement) == SQLITE_ROW else {
                        throw BenchError("the baseline SELECT found no row")
                    }
                    let version = sqlite3_column_int64(statement, 0)
                    let length = Int(sqlite3_column_bytes(statement, 1))
                    if let bytes = sqlite3_column_blob(statement, 1) {
                        let blob = [UInt8](UnsafeRawBufferPointer(start: bytes, count: length))
                        sink &+= blob.count &+ Int(truncatingIfNeeded: version)
                    }
                    sqlite3_reset(statement)
                    sqlite3_clear_bindings(statement)
                }
                count += 64
            }
            return count + (sink == Int.min ? 1 : 0)
        }
    }
}
