import OAuthBroker
import OAuthBrokerPostgres
import Testing

@Suite("PostgresStore configuration and URLs")
struct PostgresConfigurationTests {
    @Test("a full URL: user, percent-decoded password, host, port, database, options")
    func fullURL() throws {
        let configuration = try PostgresStore.Configuration(
            url: "postgresql://bro%40ker:p%3Ass@db.example:5433/to%2Fkens?schema=billing&sslmode=require"
                + "&connect_timeout=3&operation_timeout_ms=1500&pool_size=4")
        #expect(configuration.username == "bro@ker")
        #expect(configuration.password == Secret("p:ss"))
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 5433)
        #expect(configuration.database == "to/kens")
        #expect(configuration.schema == "billing")
        #expect(configuration.tls == .require)
        #expect(configuration.connectTimeout == .seconds(3))
        #expect(configuration.operationTimeout == .milliseconds(1500))
        #expect(configuration.maximumConnections == 4)
    }

    @Test("defaults: port 5432, no password, the database is the user's name, IPv6 in brackets")
    func defaults() throws {
        let configuration = try PostgresStore.Configuration(url: "postgres://broker@[::1]")
        #expect(configuration.host == "::1")
        #expect(configuration.port == 5432)
        #expect(configuration.password == nil)
        #expect(configuration.database == nil)
        #expect(configuration.schema == nil)
        #expect(configuration.description.contains("postgres://broker@[::1]:5432/broker"))
    }

    @Test(
        "bad URLs are invalidConfiguration and never quote the password",
        arguments: [
            "mysql://u:SECRET@h/db", "postgres://h/db", "postgres://:SECRET@h/db", "postgres://u:SECRET@h:0/db",
            "postgres://u:SECRET@h:99999/db", "postgres://u:SECRET@/db", "postgres://u:SECRET@h/db?schema=Bad-Name",
            "postgres://u:SECRET@h/db?sslmode=verify-full", "postgres://u:SECRET@h/db?SECRET=1",
            "postgres://u:SE%ZZCRET@h/db", "postgres://u:SECRET@h1,h2/db", "postgres://u:SECRET@h/a/b",
        ])
    func badURLs(_ url: String) {
        #expect(throws: BrokerError.invalidConfiguration) { try PostgresStore.Configuration(url: url) }
        do {
            _ = try PostgresStore.Configuration(url: url)
        } catch {
            #expect(!"\(error)".contains("SECRET"))
            #expect(!String(reflecting: error).contains("SECRET"))
        }
    }

    @Test("no printed form of a configuration shows the password")
    func redaction() throws {
        let configuration = try PostgresStore.Configuration(url: "postgres://u:hunter2@h/db")
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in [configuration.description, configuration.debugDescription, "\(configuration)"] {
            #expect(!text.contains("hunter2"))
            #expect(text.contains("<redacted>"))
        }
        #expect(!dumped.contains("hunter2"))
    }
}
