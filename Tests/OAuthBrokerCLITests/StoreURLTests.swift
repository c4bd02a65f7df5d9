import Foundation
import OAuthBroker
import OAuthBrokerTesting
import OAuthBrokerTools
import Testing

@Suite("StoreURL")
struct StoreURLTests {
    @Test("memory:, file: and sqlite: URLs parse to a kind and a path")
    func parsing() throws {
        #expect(try StoreURL("memory:").kind == .memory)
        #expect(try StoreURL("memory:").path == nil)
        let relative = try StoreURL("file:tokens.json")
        #expect(relative.kind == .file && relative.path == "tokens.json")
        #expect(try StoreURL("file:/var/lib/b/tokens.json").path == "/var/lib/b/tokens.json")
        #expect(try StoreURL("file:///var/lib/b/tokens.json").path == "/var/lib/b/tokens.json")
        #expect(try StoreURL("file://localhost/var/tokens.json").path == "/var/tokens.json")
        let sqlite = try StoreURL("sqlite:///tmp/b.sqlite")
        #expect(sqlite.kind == .sqlite && sqlite.path == "/tmp/b.sqlite")
        #expect(try StoreURL("redis://127.0.0.1:6379/0").kind == .redis)
    }

    @Test("bad URLs are invalidConfiguration errors that quote no secret")
    func invalid() {
        for bad in ["", "mysql://u:pw@h/db", "file:", "sqlite:", "file://otherhost/x", "memory:extra"] {
            let error = #expect(throws: BrokerError.self) { try StoreURL(bad) }
            #expect(error?.code == .invalidConfiguration, "\(bad)")
            #expect(error.map { !$0.description.contains("pw") } ?? false)
        }
    }

    @Test("the description hides a Redis password")
    func redaction() throws {
        let url = try StoreURL("redis://user:hunter2@127.0.0.1:6379/1")
        #expect(!url.description.contains("hunter2"))
        #expect(url.description == "redis://***@127.0.0.1:6379/1")
        #expect(try StoreURL("sqlite:/tmp/x.sqlite").description == "sqlite:/tmp/x.sqlite")
    }

    @Test("no printed form (interpolation, String(reflecting:), dump, Mirror) shows a Redis password")
    func everyPrintedFormRedacted() throws {
        let url = try StoreURL("redis://user:hunter2@127.0.0.1:6379/1")
        var dumped = ""
        dump(url, to: &dumped)
        let mirrored = Mirror(reflecting: url).children.map { "\($0.label ?? ""):\($0.value)" }.joined()
        for text in ["\(url)", String(reflecting: url), dumped, mirrored] {
            #expect(!text.contains("hunter2"), "\(text)")
        }
    }

    @Test("a separate Redis password is refused for other stores and next to one in the URL")
    func separatePasswordRules() async throws {
        let password = Secret("hunter2")
        await #expect(throws: BrokerError.invalidConfiguration) {
            try await StoreURL("memory:").makeStore(redisPassword: password)
        }
        let error = try await #require(throws: BrokerError.self) {
            try await StoreURL("redis://:other@127.0.0.1:1/0").makeStore(redisPassword: password)
        }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("given twice"))
        #expect(!error.description.contains("hunter2") && !error.description.contains("other"))
    }

    @Test("makeStore opens the named store", arguments: ["memory:", "file", "sqlite"])
    func makeStore(_ scheme: String) async throws {
        try await withTemporaryDirectory { directory in
            let string = scheme == "memory:" ? scheme : "\(scheme):\(directory)/store"
            let store = try await StoreURL(string).makeStore()
            #expect(store.kind == (scheme == "memory:" ? "memory" : scheme))
            #expect(store.providesRefreshLeases == (scheme != "memory:"))
            let key = try StoreKey(provider: "p", tenant: "t", principal: "u")
            let record = TokenRecord(accessToken: Secret("a"), issuedAt: Date(), expiresAt: nil)
            #expect(try await store.insert(record, for: key) == .inserted(record))
            #expect(try await store.record(for: key) == record)
        }
    }
}
