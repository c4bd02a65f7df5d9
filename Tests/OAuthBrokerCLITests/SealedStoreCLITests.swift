import Foundation
import OAuthBroker
import OAuthBrokerTesting
import OAuthBrokerTools
import Testing

/// `--store-keys`, `OAUTH_BROKER_STORE_KEYS` and `rekey` against real file and SQLite stores.
///
/// Serialized: these tests start about fifty debug-build CLI processes between them, and run side by side they
/// starve the timing-sensitive tests of the rest of the suite on a two-core machine.
@Suite("oauth-broker --store-keys and rekey", .serialized)
struct SealedStoreCLITests {
    /// Writes a key file (mode 0600) with one `id` line per entry; returns its path.
    static func writeKeyFile(_ fixture: CLIFixture, _ keys: [(String, [UInt8])], name: String) throws -> String {
        let path = "\(fixture.directory)/\(name)"
        let text = "# test keys\n\n" + keys.map { "\($0.0) \(Data($0.1).base64EncodedString())\n" }.joined()
        #expect(
            FileManager.default.createFile(
                atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
        return path
    }

    static func material() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }

    /// The record and session blobs of the file store, base64 undone.
    static func blobs(_ path: String) throws -> [[UInt8]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var blobs: [[UInt8]] = []
        for section in ["records", "sessions"] {
            for entry in (document[section] as? [String: [String: Any]] ?? [:]).values {
                let text = try #require(entry["blob"] as? String)
                blobs.append(Array(try #require(Data(base64Encoded: text))))
            }
        }
        return blobs
    }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let bytes = Array(needle.utf8)
        guard !bytes.isEmpty, bytes.count <= haystack.count else { return false }
        return (0...(haystack.count - bytes.count)).contains { haystack[$0..<($0 + bytes.count)].elementsEqual(bytes) }
    }

    static func keyIDs(_ path: String) throws -> Set<String> {
        Set(try blobs(path).map { try SealingStoreCodec.keyID(ofBlob: $0) ?? "plain" })
    }

    @Test("token and list with --store-keys seal the file store; the env variable names the file too")
    func sealedTokenAndList() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let keys = try Self.writeKeyFile(fixture, [("k1", Self.material())], name: "keys")
            let storePath = "\(fixture.directory)/tokens.json"
            let token = try await fixture.run(
                ["token", "--format", "raw", "--store-keys", keys] + fixture.keyArguments(provider: provider))
            #expect(token.status == 0, "\(token)")
            let accessToken = token.stdout.trimmingCharacters(in: .newlines)
            #expect(fixture.server.isActive(accessToken: Secret(accessToken)))
            let raw = try Array(Data(contentsOf: URL(fileURLWithPath: storePath)))
            for blob in try Self.blobs(storePath) + [raw] {
                #expect(!Self.contains(blob, accessToken), "the access token is readable in the store file")
            }
            #expect(try Self.keyIDs(storePath) == ["k1"])

            // The environment variable instead of the flag: the same record, served from the store.
            let again = try await fixture.run(
                ["token", "--format", "raw"] + fixture.keyArguments(provider: provider),
                environment: [StoreKeyFile.environmentVariable: keys])
            #expect(again.status == 0, "\(again)")
            #expect(again.stdout == token.stdout)
            #expect(fixture.server.statistics.requests(to: .token) == 1)

            let list = try await fixture.run(["list", "--store", fixture.fileStore, "--store-keys", keys])
            #expect(list.status == 0 && list.stdout.contains("alice"), "\(list)")
            let listByEnvironment = try await fixture.run(
                ["list", "--store", fixture.fileStore], environment: [StoreKeyFile.environmentVariable: keys])
            #expect(listByEnvironment.stdout == list.stdout)

            // Without keys the sealed record is refused with exit 2 naming the key id, and nothing changes.
            let plain = try await fixture.run(["list", "--store", fixture.fileStore])
            #expect(plain.status == 2, "\(plain)")
            #expect(plain.errorLine.contains("'k1'") && !plain.errorLine.contains("\n"), "\(plain)")
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: storePath))) == raw)
            for result in [token, again, list, plain] { expectNoSecrets(result, [fixture.clientSecret]) }
        }
    }

    @Test("rekey seals a plain store, then rotates to a second key; old keys can then be dropped")
    func rekeyAndRotate() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let storePath = "\(fixture.directory)/tokens.json"
            var tokens: [String] = []
            for principal in ["alice", "bob"] {
                let token = try await fixture.run(
                    ["token", "--format", "raw"] + fixture.keyArguments(provider: provider, principal: principal))
                #expect(token.status == 0, "\(token)")
                tokens.append(token.stdout.trimmingCharacters(in: .newlines))
            }
            // A pending authorization (a session with a PKCE verifier), not counted by rekey.
            let authorize = try await fixture.run(
                ["authorize"] + fixture.keyArguments(provider: provider, principal: "carol", scope: "openid"))
            #expect(authorize.status == 0, "\(authorize)")
            #expect(try Self.keyIDs(storePath) == ["plain"])
            #expect(try Self.blobs(storePath).contains { Self.contains($0, tokens[0]) })

            let material1 = Self.material()
            let material2 = Self.material()
            let first = try Self.writeKeyFile(fixture, [("k1", material1)], name: "keys1")
            let rekey = try await fixture.run(["rekey", "--store", fixture.fileStore, "--store-keys", first])
            #expect(rekey.status == 0, "\(rekey)")
            #expect(rekey.stdout == "rekey: 2 records re-sealed under k1\n", "\(rekey)")
            #expect(try Self.keyIDs(storePath) == ["k1"])
            for blob in try Self.blobs(storePath) {
                for token in tokens { #expect(!Self.contains(blob, token)) }
            }

            let rotated = try Self.writeKeyFile(fixture, [("k2", material2), ("k1", material1)], name: "keys2")
            let rekey2 = try await fixture.run(
                ["rekey", "--store", fixture.fileStore], environment: [StoreKeyFile.environmentVariable: rotated])
            #expect(rekey2.stdout == "rekey: 2 records re-sealed under k2\n", "\(rekey2)")
            #expect(try Self.keyIDs(storePath) == ["k2"])

            let only2 = try Self.writeKeyFile(fixture, [("k2", material2)], name: "keys3")
            let token = try await fixture.run(
                ["token", "--format", "raw", "--store-keys", only2] + fixture.keyArguments(provider: provider))
            #expect(token.stdout == tokens[0] + "\n", "\(token)")
            #expect(fixture.server.statistics.requests(to: .token) == 2)
            // The session re-sealed under k2 still completes the authorization.
            let callback = try await fixture.server.approve(
                authorizationURL: try #require(URL(string: authorize.stdout.trimmingCharacters(in: .newlines))))
            let exchange = try await fixture.run(
                [
                    "exchange", "--provider", provider, "--store", fixture.fileStore, "--store-keys", only2,
                    "--callback", callback.absoluteString,
                ])
            #expect(exchange.status == 0, "\(exchange)")
            for result in [rekey, rekey2, token, exchange] { expectNoSecrets(result, [fixture.clientSecret]) }
        }
    }

    @Test(
        "a missing key id exits 2 naming it; a wrong key or a moved blob exits 1; nothing stored changes",
        arguments: ["file", "sqlite"])
    func failuresChangeNothing(_ kind: String) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let store = kind == "file" ? fixture.fileStore : "sqlite:\(fixture.directory)/tokens.sqlite"
            let material = Self.material()
            let keys = try Self.writeKeyFile(fixture, [("k-live", material)], name: "keys")
            for principal in ["alice", "bob"] {
                let token = try await fixture.run(
                    ["token", "--store-keys", keys]
                        + fixture.keyArguments(provider: provider, store: store, principal: principal))
                #expect(token.status == 0, "\(token)")
            }
            let files = ["tokens.json", "tokens.sqlite"].map { "\(fixture.directory)/\($0)" }
            func snapshot() async throws -> [TokenRecord?] {
                // Read through a store with the right key: every record, exactly as stored.
                let opened = try await StoreURL(store).makeStore(
                    codec: SealingStoreCodec(keys: [.init(id: "k-live", bytes: material)]))
                var records: [TokenRecord?] = []
                for key in try await opened.keys() { records.append(try await opened.record(for: key)) }
                return records
            }
            func rawBytes() throws -> [UInt8] {
                kind == "file" ? try Array(Data(contentsOf: URL(fileURLWithPath: files[0]))) : []
            }
            let before = try await snapshot()
            let rawBefore = try rawBytes()
            #expect(before.count == 2)

            let missing = try Self.writeKeyFile(fixture, [("k-other", Self.material())], name: "missing")
            let wrong = try Self.writeKeyFile(fixture, [("k-live", Self.material())], name: "wrong")
            let cases: [(keys: String, status: Int32, arguments: [String])] = [
                (missing, 2, ["token"] + fixture.keyArguments(provider: provider, store: store)),
                (missing, 2, ["refresh"] + fixture.keyArguments(provider: provider, store: store)),
                (missing, 2, ["revoke"] + fixture.keyArguments(provider: provider, store: store)),
                (missing, 2, ["list", "--store", store]),
                (missing, 2, ["rekey", "--store", store]),
                (wrong, 1, ["token"] + fixture.keyArguments(provider: provider, store: store)),
                (wrong, 1, ["list", "--store", store]),
                (wrong, 1, ["rekey", "--store", store]),
            ]
            // Every command on the file store; on SQLite one of each outcome (the store code is shared).
            let selected = kind == "file" ? cases[...] : [cases[0], cases[3], cases[5], cases[7]]
            for (keyFile, status, arguments) in selected {
                let result = try await fixture.run(arguments + ["--store-keys", keyFile])
                #expect(result.status == status, "\(arguments[0]) with \(keyFile): \(result)")
                #expect(result.stderr.filter { $0 == "\n" }.count == 1, "\(result)")
                if status == 2 { #expect(result.errorLine.contains("'k-live'"), "\(result)") }
                #expect(try await snapshot() == before, "\(arguments[0]) changed the store")
                #expect(try rawBytes() == rawBefore, "\(arguments[0]) changed the store file")
                expectNoSecrets(result, [fixture.clientSecret, Data(material).base64EncodedString()])
            }
        }
    }

    @Test("a blob moved to another record's key exits 1 and changes nothing")
    func movedBlob() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let keys = try Self.writeKeyFile(fixture, [("k1", Self.material())], name: "keys")
            for principal in ["alice", "mallory"] {
                let token = try await fixture.run(
                    ["token", "--store-keys", keys] + fixture.keyArguments(provider: provider, principal: principal))
                #expect(token.status == 0, "\(token)")
            }
            let path = "\(fixture.directory)/tokens.json"
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            var document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            var records = try #require(document["records"] as? [String: [String: Any]])
            let alice = try #require(records.keys.first { $0.contains("alice") })
            let mallory = try #require(records.keys.first { $0.contains("mallory") })
            let (blob, version) = (records[alice]?["blob"], records[alice]?["version"])
            records[mallory]?["blob"] = blob
            records[mallory]?["version"] = version
            document["records"] = records
            try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
                .write(to: URL(fileURLWithPath: path))
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let result = try await fixture.run(
                ["token", "--format", "raw", "--store-keys", keys]
                    + fixture.keyArguments(provider: provider, principal: "mallory"))
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout.isEmpty && result.errorLine.contains("store_corrupted"), "\(result)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }
    }

    @Test("a bad key file exits 2 with one line naming the line, never the key material")
    func badKeyFiles() async throws {
        try await CLIFixture.with { fixture in
            let good = Data(Self.material()).base64EncodedString()
            let short = Data(Self.material().prefix(16)).base64EncodedString()
            let files: [(String, String, String)] = [
                ("# only a comment\n\n", "has no key", "empty"),
                ("k1 \(good)\nk2 \(short)\n", "line 2: the key decodes to 16 bytes", "short"),
                ("k1 \(good) trailing\n", "line 1: expected KEY_ID BASE64", "fields"),
                ("bad/id \(good)\n", "line 1: the key id", "id"),
                ("k1 \(good.replacingOccurrences(of: "=", with: ""))\n", "line 1: the key is not standard", "pad"),
                ("k1 \(good)\n# c\nk1 \(good)\n", "line 3: key id k1 appears twice", "duplicate"),
            ]
            for (content, expected, name) in files {
                let path = "\(fixture.directory)/\(name)"
                #expect(
                    FileManager.default.createFile(
                        atPath: path, contents: Data(content.utf8), attributes: [.posixPermissions: 0o600]))
                let result = try await fixture.run(["list", "--store", fixture.fileStore, "--store-keys", path])
                #expect(result.status == 2, "\(name): \(result)")
                #expect(result.errorLine.contains("--store-keys") && result.errorLine.contains(expected), "\(result)")
                expectNoSecrets(result, [good, short, String(good.prefix(12))])
            }
            let loose = "\(fixture.directory)/loose"
            #expect(
                FileManager.default.createFile(
                    atPath: loose, contents: Data("k1 \(good)\n".utf8), attributes: [.posixPermissions: 0o644]))
            let result = try await fixture.run(["list", "--store", fixture.fileStore, "--store-keys", loose])
            #expect(result.status == 2 && result.errorLine.contains("mode 644"), "\(result)")
            let absent = try await fixture.run(
                ["list", "--store", fixture.fileStore],
                environment: [StoreKeyFile.environmentVariable: "/nonexistent/keys"])
            #expect(absent.status == 2 && absent.errorLine.contains("/nonexistent/keys"), "\(absent)")
            let noKeys = try await fixture.run(["rekey", "--store", fixture.fileStore])
            #expect(noKeys.status == 2 && noKeys.errorLine.contains("--store-keys"), "\(noKeys)")
        }
    }
}
