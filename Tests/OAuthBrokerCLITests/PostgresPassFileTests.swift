import Foundation
import OAuthBroker
import OAuthBrokerTesting
import OAuthBrokerTools
import Testing

@Suite("PostgreSQL password file (libpq's format) and postgres:// store URLs")
struct PostgresPassFileTests {
    @Test("the first matching line wins; * matches any field")
    func wildcards() {
        let file = PostgresPassFile(
            text: """
                db.example:5432:tokens:broker:first
                *:5432:tokens:broker:second
                *:*:*:*:fallback
                """)
        #expect(
            file.password(host: "db.example", port: 5432, database: "tokens", username: "broker") == Secret("first"))
        #expect(file.password(host: "other", port: 5432, database: "tokens", username: "broker") == Secret("second"))
        #expect(file.password(host: "other", port: 6543, database: "x", username: "y") == Secret("fallback"))
        #expect(PostgresPassFile(text: "h:1:d:u:p").password(host: "h", port: 2, database: "d", username: "u") == nil)
    }

    @Test("\\: and \\\\ escape a colon and a backslash; the password ends at the next unescaped colon")
    func escapes() {
        let file = PostgresPassFile(text: #"we\:ird\\host:*:*:us\:er:pa\:ss\\word:ignored"#)
        #expect(
            file.password(host: #"we:ird\host"#, port: 5432, database: "d", username: "us:er")
                == Secret(#"pa:ss\word"#))
        // An escaped star is a literal star, not a wildcard.
        let literal = PostgresPassFile(text: #"\*:*:*:*:star"#)
        #expect(literal.password(host: "anything", port: 1, database: "d", username: "u") == nil)
        #expect(literal.password(host: "*", port: 1, database: "d", username: "u") == Secret("star"))
    }

    @Test("comments, blank lines, CRLF line ends and short lines are skipped")
    func skippedLines() {
        let file = PostgresPassFile(text: "# h:1:d:u:comment\r\n\r\nh:1:d\r\nh:1:d:u:real\r\n")
        #expect(file.password(host: "h", port: 1, database: "d", username: "u") == Secret("real"))
    }

    @Test(
        "a file that group or others may read is ignored, as libpq does; 0600 is used",
        arguments: [0o600, 0o640, 0o604, 0o660])
    func permissions(_ mode: Int) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/pgpass"
            #expect(FileManager.default.createFile(atPath: path, contents: Data("*:*:*:*:secret\n".utf8)))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            let loaded = PostgresPassFile.load(path: path)
            #expect((loaded != nil) == (mode == 0o600))
            let password = PostgresPassFile.password(
                host: "h", port: 5432, database: "d", username: "u", environment: ["PGPASSFILE": path])
            #expect(password == (mode == 0o600 ? Secret("secret") : nil))
        }
    }

    @Test("PGPASSWORD wins over the pass file; ~/.pgpass is read without PGPASSFILE; a directory is no pass file")
    func precedence() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/.pgpass"
            #expect(FileManager.default.createFile(atPath: path, contents: Data("*:*:*:*:from-file\n".utf8)))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            func lookup(_ environment: [String: String]) -> Secret? {
                PostgresPassFile.password(host: "h", port: 5432, database: "d", username: "u", environment: environment)
            }
            #expect(lookup(["HOME": directory, "PGPASSWORD": "from-env"]) == Secret("from-env"))
            #expect(lookup(["HOME": directory]) == Secret("from-file"))
            #expect(lookup(["HOME": directory, "PGPASSFILE": directory]) == nil)
            #expect(lookup([:]) == nil)
        }
    }

    @Test("postgres:// and postgresql:// name PostgreSQL stores; the description masks the password, keeps the user")
    func storeURLs() throws {
        let url = try StoreURL("postgres://broker:s3cr%40t@db.example:5433/tokens?schema=billing")
        #expect(url.kind == .postgres)
        #expect(url.description == "postgres://broker:***@db.example:5433/tokens?schema=billing")
        #expect(!String(describing: url).contains("s3cr"))
        var dumped = ""
        dump(url, to: &dumped)
        #expect(!dumped.contains("s3cr"))
        #expect(try StoreURL("postgresql://broker@db.example/tokens").kind == .postgres)
        #expect(
            try StoreURL("postgresql://broker@db.example/tokens").description == "postgresql://broker@db.example/tokens"
        )
    }
}
