import Foundation
import OAuthBroker

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps a database file and its `-wal` and `-shm` files at mode `0600`, whoever created them.
///
/// SQLite creates `-wal` and `-shm` with the database file's mode, but a file that already exists keeps its own
/// (a database copied in with `0644`, or a `-wal` left by a process with another umask), and those hold tokens
/// in plain text. So every open sets each existing file to `0600`; a file whose mode cannot be changed (another
/// user owns it) is refused rather than used.
enum SQLiteFileModes {
    /// The mode every file of the database gets.
    static let mode: mode_t = 0o600

    /// The database file and the two files SQLite keeps beside it in WAL mode.
    static func files(ofDatabase path: String) -> [String] { [path, path + "-wal", path + "-shm"] }

    /// Sets every existing file of the database at `path` to mode `0600` (a missing one is skipped).
    /// - Throws: `BrokerError` (`invalidConfiguration`) naming the first file whose mode is not `0600` and cannot be
    ///   changed, with its mode, for example `tokens.sqlite-wal has mode 0644 and cannot be changed to 0600
    ///   (Operation not permitted): …`.
    static func enforce(onDatabase path: String) throws {
        for file in files(ofDatabase: path) {
            var status = stat()
            guard stat(file, &status) == 0 else { continue }  // not there (yet): SQLite creates it with our mode
            let current = status.st_mode & 0o7777
            guard current != mode else { continue }
            guard chmod(file, mode) == 0 else {
                let reason = String(cString: strerror(errno))
                throw BrokerError(
                    .invalidConfiguration,
                    "\(file) has mode \(octal(current)) and cannot be changed to 0600 (\(reason)): the SQLite store "
                        + "refuses files that others may read; change its owner or mode")
            }
        }
    }

    /// `0644`.
    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return "0" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }
}
