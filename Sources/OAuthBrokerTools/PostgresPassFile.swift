public import Foundation
public import OAuthBroker

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A PostgreSQL password file in libpq's format (`~/.pgpass`, or the file `PGPASSFILE` names), and the password
/// lookup the executables do for a `postgres://` store URL without a password.
///
/// Each line is `hostname:port:database:username:password`. The first line whose four fields match wins; a field
/// `*` matches anything; `\:` and `\\` stand for `:` and `\` in any field; blank lines and lines starting with `#`
/// are skipped. As libpq does, a file that group or others may read or write (mode not `0600` or stricter), or that
/// is not a regular file, is ignored: a password that other users can read is not used.
public struct PostgresPassFile: Sendable {
    /// One line: four patterns and the password.
    struct Entry: Sendable {
        var host: Pattern
        var port: Pattern
        var database: Pattern
        var username: Pattern
        var password: String
    }

    /// `*` (anything) or an exact, unescaped value.
    enum Pattern: Sendable, Equatable {
        case any
        case exact(String)

        func matches(_ value: String) -> Bool {
            if case .exact(let text) = self { return text == value }
            return true
        }
    }

    let entries: [Entry]

    /// Parses the text of a password file. Lines with fewer than five fields are skipped, as libpq does.
    /// - Parameter text: The file's contents.
    public init(text: String) {
        entries = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .compactMap(Self.entry)
    }

    /// The password for a connection, or `nil` when no line matches.
    /// - Parameters:
    ///   - host: The host as the URL names it.
    ///   - port: The port.
    ///   - database: The database.
    ///   - username: The role.
    /// - Returns: The first matching line's password.
    public func password(host: String, port: Int, database: String, username: String) -> Secret? {
        let portText = String(port)
        return entries.first {
            $0.host.matches(host) && $0.port.matches(portText) && $0.database.matches(database)
                && $0.username.matches(username)
        }.map { Secret($0.password) }
    }

    /// Reads a password file, or returns `nil` when it does not exist, is not a regular file, or has group or
    /// other permissions (libpq's rule).
    /// - Parameter path: The file.
    /// - Returns: The parsed file, or `nil`.
    public static func load(path: String) -> PostgresPassFile? {
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        guard status.st_mode & (S_IRWXG | S_IRWXO) == 0 else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return PostgresPassFile(text: String(decoding: data, as: UTF8.self))
    }

    /// The password for a connection without one in its URL: `PGPASSWORD`, else the password file
    /// (`PGPASSFILE`, else `~/.pgpass`).
    /// - Parameters:
    ///   - host: The host.
    ///   - port: The port.
    ///   - database: The database.
    ///   - username: The role.
    ///   - environment: The process environment.
    /// - Returns: The password, or `nil`.
    public static func password(
        host: String, port: Int, database: String, username: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Secret? {
        if let password = environment["PGPASSWORD"], !password.isEmpty { return Secret(password) }
        let path: String
        if let file = environment["PGPASSFILE"], !file.isEmpty {
            path = file
        } else if let home = environment["HOME"], !home.isEmpty {
            path = home + "/.pgpass"
        } else {
            return nil
        }
        return load(path: path)?.password(host: host, port: port, database: database, username: username)
    }

    /// Splits one line at unescaped colons: four patterns, then the password up to the next unescaped colon.
    private static func entry(_ line: Substring) -> Entry? {
        if line.hasPrefix("#") { return nil }
        var fields: [(text: String, isWildcard: Bool)] = []
        var current = ""
        var raw = ""
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            if character == "\\" {
                guard let escaped = iterator.next() else { break }
                current.append(escaped)
                raw.append("\\")
                raw.append(escaped)
            } else if character == ":" {
                fields.append((current, raw == "*"))
                current = ""
                raw = ""
                if fields.count == 5 { break }
            } else {
                current.append(character)
                raw.append(character)
            }
        }
        if fields.count < 5 { fields.append((current, raw == "*")) }
        guard fields.count == 5 else { return nil }
        func pattern(_ field: (text: String, isWildcard: Bool)) -> Pattern {
            field.isWildcard ? .any : .exact(field.text)
        }
        return Entry(
            host: pattern(fields[0]), port: pattern(fields[1]), database: pattern(fields[2]),
            username: pattern(fields[3]), password: fields[4].text)
    }
}
