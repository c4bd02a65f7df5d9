import CSQLite
import Foundation
import OAuthBroker
import OAuthBrokerSQLite
import OAuthBrokerTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A database, `-wal` or `-shm` file that already exists with a loose mode is brought to `0600` when the store
/// opens it, whoever created it.
@Suite("SQLiteStore file modes")
struct SQLiteFileModeTests {
    static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    @Test("a pre-existing database, -wal and -shm with modes 0644, 0666 and 0604 end at 0600 after open")
    func preExistingFilesTightened() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/tokens.sqlite"
            do {
                // Another program made the database (in WAL mode) with a permissive umask and left -wal and -shm.
                let previous = umask(0)
                defer { umask(previous) }
                let raw = try RawDatabase(path)
                raw.execute("PRAGMA journal_mode=WAL")
                raw.execute("CREATE TABLE unrelated(x)")
                raw.execute("INSERT INTO unrelated VALUES (1)")
                for (file, mode) in [(path, 0o644), (path + "-wal", 0o666), (path + "-shm", 0o604)] {
                    #expect(FileManager.default.fileExists(atPath: file), "\(file) was not created")
                    chmod(file, mode_t(mode))
                }
                let store = try await SQLiteStore(path: path)
                for file in [path, path + "-wal", path + "-shm"] {
                    #expect(Self.mode(of: file) == 0o600, "\(file): \(String(Self.mode(of: file) ?? 0, radix: 8))")
                }
                // The data that was there is kept, and the store works.
                #expect(raw.scalar("SELECT x FROM unrelated") == "1")
                let key = SQLiteStoreTests.key
                _ = try await store.insert(SQLiteStoreTests.record("a"), for: key)
                #expect(try await store.record(for: key)?.accessToken == Secret("access-a"))
            }
        }
    }

    @Test("a loose -wal left beside a database this store created is tightened at the next open")
    func looseWALAtReopen() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/tokens.sqlite"
            let first = try await SQLiteStore(path: path)
            _ = try await first.insert(SQLiteStoreTests.record("b"), for: SQLiteStoreTests.key)
            chmod(path + "-wal", 0o644)
            chmod(path, 0o640)
            let second = try await SQLiteStore(path: path)
            #expect(Self.mode(of: path) == 0o600)
            #expect(Self.mode(of: path + "-wal") == 0o600)
            #expect(try await second.record(for: SQLiteStoreTests.key)?.accessToken == Secret("access-b"))
            withExtendedLifetime(first) {}
        }
    }
}
