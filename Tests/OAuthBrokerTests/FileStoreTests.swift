import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("FileStore")
struct FileStoreTests {
    static let key = StoreKey(
        provider: try! ProviderID("p"), tenant: try! TenantID("t"), principal: try! PrincipalID("u"), scopes: ["a"])

    static func record(_ tag: String, version: UInt64 = 1_000) -> TokenRecord {
        TokenRecord(
            accessToken: Secret("access-\(tag)"), refreshToken: Secret("refresh-\(tag)"), issuedAt: Date(),
            expiresAt: Date().addingTimeInterval(3600), version: version)
    }

    @Test("conformance, plain and sealed", arguments: StoreConformance.Check.all, [false, true])
    func conformance(_ check: StoreConformance.Check, sealed: Bool) async throws {
        try await withTemporaryDirectory { directory in
            // Each write is two fsyncs: a smaller race than the default 64 × 200 keeps the test quick.
            let options = StoreConformance.Options(concurrentTasks: 8, attemptsPerTask: 25)
            let codec: any StoreCodec =
                sealed ? try SealingStoreCodec(keys: [.random(id: "conformance")]) : JSONStoreCodec()
            try await StoreConformance(options: options) {
                try FileStore(configuration: .init(path: directory + "/store.json", codec: codec))
            }.run(check)
        }
    }

    @Test("the store file and the lock file have mode 0600")
    func fileMode() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let previous = umask(0o022)
            defer { umask(previous) }
            let store = try FileStore(path: path)
            _ = try await store.insert(Self.record("a"), for: Self.key)
            for file in [path, path + ".lock"] {
                var info = stat()
                #expect(stat(file, &info) == 0)
                #expect(info.st_mode & 0o777 == 0o600, "\(file) has mode \(String(info.st_mode & 0o777, radix: 8))")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            #expect(names == ["store.json", "store.json.lock"], "temporary files were left behind: \(names)")
        }
    }

    @Test("two store instances on one file see each other's writes (no stale cache)")
    func sharedFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let first = try FileStore(path: path)
            let second = try FileStore(path: path)
            let original = Self.record("original")
            _ = try await first.insert(original, for: Self.key)
            #expect(try await second.record(for: Self.key) == original)
            guard
                case .swapped(let stored) = try await second.compareAndSwap(
                    Self.key, expecting: original.version, with: Self.record("second"))
            else {
                Issue.record("the second instance could not swap")
                return
            }
            #expect(try await first.record(for: Self.key) == stored)
            let stale = try await first.compareAndSwap(Self.key, expecting: original.version, with: Self.record("x"))
            #expect(stale == .conflict(current: stored))
            #expect(try await first.acquireRefreshLease(for: Self.key, owner: LeaseOwner("a"), ttl: .seconds(60)))
            #expect(!(try await second.acquireRefreshLease(for: Self.key, owner: LeaseOwner("b"), ttl: .seconds(60))))
        }
    }

    @Test("racing instances on one file lose no update")
    func racingInstances() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let stores = try (0..<3).map { _ in try FileStore(path: path) }
            _ = try await stores[0].insert(Self.record("start", version: 0), for: Self.key)
            let wins = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<9 {
                    let store = stores[index % stores.count]
                    group.addTask {
                        var won = 0
                        var known = try #require(try await store.record(for: Self.key))
                        for _ in 0..<15 {
                            switch try await store.compareAndSwap(Self.key, expecting: known.version, with: known) {
                            case .swapped(let stored):
                                won += 1
                                known = stored
                            case .conflict(let current): known = current
                            case .missing: Issue.record("record vanished")
                            }
                        }
                        return won
                    }
                }
                return try await group.reduce(0, +)
            }
            let final = try #require(try await stores[1].record(for: Self.key))
            #expect(final.version == UInt64(wins))
            #expect(wins >= 15)
        }
    }

    @Test("a corrupt file is a storeCorrupted error and is kept aside, not replaced")
    func corruptFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let garbage = Array("{\"format\": \"oauth-broker-file-store\", \"format_version\": 1, \"records\": {".utf8)
            try Data(garbage).write(to: URL(fileURLWithPath: path))
            let store = try FileStore(path: path)
            await #expect(throws: BrokerError.storeCorrupted) { try await store.record(for: Self.key) }
            let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            let kept = try #require(names.first { $0.hasPrefix("store.json.corrupt-") })
            #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + kept)) == Data(garbage))
            // The store starts afresh; the bad data stays where it was moved.
            let fresh = Self.record("new")
            #expect(try await store.insert(fresh, for: Self.key) == .inserted(fresh))
            #expect(try await store.record(for: Self.key) == fresh)
            #expect(FileManager.default.fileExists(atPath: directory + "/" + kept))
        }
    }

    @Test("a truncated file is a storeCorrupted error on write too, and the data is kept")
    func truncatedFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let store = try FileStore(path: path)
            _ = try await store.insert(Self.record("a"), for: Self.key)
            let full = try Data(contentsOf: URL(fileURLWithPath: path))
            let truncated = full.prefix(full.count - 7)
            try truncated.write(to: URL(fileURLWithPath: path))
            let other = try FileStore(path: path)
            await #expect(throws: BrokerError.storeCorrupted) {
                try await other.compareAndSwap(Self.key, expecting: 1_000, with: Self.record("b"))
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            let kept = try #require(names.first { $0.hasPrefix("store.json.corrupt-") })
            #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + kept)) == truncated)
            #expect(!names.contains("store.json"), "the corrupt file was replaced instead of moved aside")
        }
    }

    @Test("an empty file is corrupt too (a write never produces one)")
    func emptyFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))
            let store = try FileStore(path: path)
            await #expect(throws: BrokerError.storeCorrupted) { try await store.keys() }
            let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(names.contains { $0.hasPrefix("store.json.corrupt-") })
        }
    }

    @Test("a file from a newer format version is refused and left untouched")
    func newerFormat() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let newer = Data(#"{"format":"oauth-broker-file-store","format_version":2,"stuff":[]}"#.utf8)
            try newer.write(to: URL(fileURLWithPath: path))
            let store = try FileStore(path: path)
            await #expect(throws: BrokerError.storeFailed) { try await store.record(for: Self.key) }
            await #expect(throws: BrokerError.storeFailed) { try await store.insert(Self.record("a"), for: Self.key) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == newer)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
                    == ["store.json", "store.json.lock"])
        }
    }

    @Test("a record blob that fails to decode is storeCorrupted without leaking the token")
    func corruptBlob() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let store = try FileStore(path: path)
            _ = try await store.insert(Self.record("secret-token-value"), for: Self.key)
            var text = try String(contentsOfFile: path, encoding: .utf8)
            let blob = Data(Array(#"{"v":9,"record":{"access_token":"secret-token-value"}}"#.utf8))
                .base64EncodedString()
            let range = try #require(text.range(of: #""blob":"[^"]*""#, options: .regularExpression))
            text.replaceSubrange(range, with: "\"blob\":\"\(blob)\"")
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            let error = await #expect(throws: BrokerError.self) { try await store.record(for: Self.key) }
            #expect(error?.code == .storeCorrupted)
            #expect(error.map { !$0.debugDescription.contains("secret-token-value") } ?? false)
        }
    }

    @Test("temporary files orphaned by a killed writer are removed by the next writer")
    func orphanedTemporaryFiles() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let orphan = directory + "/.store.json.tmp-99999-1"
            #expect(FileManager.default.createFile(atPath: orphan, contents: Data("half a docu".utf8)))
            let store = try FileStore(path: path)
            _ = try await store.insert(Self.record("a"), for: Self.key)
            #expect(!FileManager.default.fileExists(atPath: orphan))
        }
    }

    @Test("invalid configurations are rejected")
    func invalidConfiguration() {
        #expect(throws: BrokerError.invalidConfiguration) { try FileStore(path: "") }
        #expect(throws: BrokerError.invalidConfiguration) { try FileStore(path: "/tmp/dir/") }
        #expect(throws: BrokerError.invalidConfiguration) {
            try FileStore(configuration: .init(path: "/tmp/x", lockTimeout: .seconds(-1)))
        }
    }

    @Test("a missing directory is a storeFailed error")
    func missingDirectory() async throws {
        let store = try FileStore(path: "/nonexistent-\(UInt32.random(in: 0...UInt32.max))/store.json")
        await #expect(throws: BrokerError.storeFailed) { try await store.record(for: Self.key) }
    }

    @Test("a lock held elsewhere past the timeout is storeUnavailable")
    func lockTimeout() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let descriptor = open(path + ".lock", O_RDWR | O_CREAT, 0o600)
            #expect(descriptor >= 0)
            defer { close(descriptor) }
            #expect(flock(descriptor, LOCK_EX) == 0)
            let store = try FileStore(configuration: .init(path: path, lockTimeout: .milliseconds(50)))
            await #expect(throws: BrokerError.storeUnavailable) { try await store.record(for: Self.key) }
            flock(descriptor, LOCK_UN)
            #expect(try await store.record(for: Self.key) == nil)
        }
    }
}
