import OAuthBroker
import OAuthBrokerRedis
import Testing

@Suite("RedisStore.Configuration and redis:// URLs")
struct RedisConfigurationTests {
    @Test("host, port and database")
    func hostPortDatabase() throws {
        let configuration = try RedisStore.Configuration(url: "redis://cache.internal:6380/3")
        #expect(configuration.host == "cache.internal")
        #expect(configuration.port == 6380)
        #expect(configuration.database == 3)
        #expect(configuration.username == nil)
        #expect(configuration.password == nil)
    }

    @Test("defaults: port 6379, database 0")
    func defaults() throws {
        for url in ["redis://localhost", "redis://localhost/", "REDIS://localhost"] {
            let configuration = try RedisStore.Configuration(url: url)
            #expect(configuration.host == "localhost")
            #expect(configuration.port == 6379)
            #expect(configuration.database == 0)
        }
    }

    @Test("a percent-encoded password is decoded")
    func percentEncodedPassword() throws {
        let configuration = try RedisStore.Configuration(url: "redis://:p%40ss%3Aw%2Frd%25@127.0.0.1:6379/0")
        #expect(configuration.username == nil)
        #expect(configuration.password?.revealedValue == "p@ss:w/rd%")
    }

    @Test("an ACL user and password")
    func aclUser() throws {
        let configuration = try RedisStore.Configuration(url: "redis://app%2Dsvc:pa%20ss@10.0.0.5:7000/15")
        #expect(configuration.username == "app-svc")
        #expect(configuration.password?.revealedValue == "pa ss")
        #expect(configuration.host == "10.0.0.5")
        #expect(configuration.port == 7000)
        #expect(configuration.database == 15)
    }

    @Test("an IPv6 host in brackets")
    func ipv6() throws {
        let configuration = try RedisStore.Configuration(url: "redis://[::1]:6390/2")
        #expect(configuration.host == "::1")
        #expect(configuration.port == 6390)
        #expect(configuration.database == 2)
        #expect(try RedisStore.Configuration(url: "redis://[::1]").port == 6379)
    }

    @Test("query options")
    func options() throws {
        let configuration = try RedisStore.Configuration(
            url: "redis://h/1?prefix=app%3A1%3A&pool_size=9&connect_timeout_ms=250&command_timeout_ms=750"
                + "&pool_timeout_ms=1500&client_name=broker-7")
        #expect(configuration.keyPrefix == "app:1:")
        #expect(configuration.poolSize == 9)
        #expect(configuration.connectTimeout == .milliseconds(250))
        #expect(configuration.commandTimeout == .milliseconds(750))
        #expect(configuration.poolTimeout == .milliseconds(1500))
        #expect(configuration.clientName == "broker-7")
    }

    @Test(
        "bad URLs are rejected as invalid configuration",
        arguments: [
            "http://localhost:6379", "rediss://localhost:6380", "redis://", "redis://:6379", "redis://host:0",
            "redis://host:65536", "redis://host:-1", "redis://host:63a9", "redis://host/db", "redis://host/-1",
            "redis://host/1/2", "redis://host/99999999999", "redis://user@host", "redis://:@host",
            "redis://:%zz@host", "redis://:%4@host", "redis://:%FF@host", "redis://host#frag",
            "redis://host?unknown=1", "redis://host?pool_size=0", "redis://host?pool_size", "redis://[::1",
            "redis://[::1]x", "redis://ho st", "redis://host?prefix=%7Bslot%7D", "redis://host?connect_timeout_ms=0",
            "redis://host?client_name=a%20b",
        ])
    func badURLs(url: String) {
        #expect(throws: BrokerError.invalidConfiguration) { try RedisStore.Configuration(url: url) }
    }

    @Test("errors and descriptions never contain the password")
    func passwordNeverEchoed() throws {
        let password = "Sup3rS3cretPw"
        let bad = [
            "redis://:\(password)@host:99999", "redis://:\(password)@host/x", "rediss://:\(password)@host",
            "redis://:\(password)@host?\(password)=1", "redis://:\(password)%zz@host", "redis://u:\(password)@",
        ]
        for url in bad {
            let error = #expect(throws: BrokerError.self) { try RedisStore.Configuration(url: url) }
            let text = "\(String(describing: error)) \(String(reflecting: error)) \(error?.message ?? "")"
            #expect(!text.contains(password), "error for a bad URL echoed the password")
            #expect(error?.code == .invalidConfiguration)
        }
        let good = try RedisStore.Configuration(url: "redis://alice:\(password)@host:6379/1")
        var dumped = ""
        dump(good, to: &dumped)
        for text in ["\(good)", String(reflecting: good), dumped] {
            #expect(!text.contains(password))
        }
        #expect("\(good)".contains("alice:<redacted>@host:6379/1"))
    }

    @Test("validate() rejects bad settings")
    func validation() throws {
        func rejects(_ adjust: (inout RedisStore.Configuration) -> Void) {
            var configuration = RedisStore.Configuration()
            adjust(&configuration)
            #expect(throws: BrokerError.invalidConfiguration) { try RedisStore(configuration: configuration) }
        }
        rejects { $0.host = "" }
        rejects { $0.port = 0 }
        rejects { $0.database = -1 }
        rejects { $0.poolSize = 0 }
        rejects { $0.connectTimeout = .zero }
        rejects { $0.commandTimeout = .milliseconds(-1) }
        rejects { $0.poolTimeout = .zero }
        rejects { $0.scanCount = 0 }
        rejects { $0.keyPrefix = "app{1}:" }
        rejects { $0.username = "alice" }  // without a password
        rejects { $0.clientName = "has space" }
        let store = try RedisStore(configuration: RedisStore.Configuration())
        #expect(store.kind == "redis")
        #expect(store.providesRefreshLeases)
    }
}
