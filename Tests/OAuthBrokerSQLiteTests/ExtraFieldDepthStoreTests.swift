import Foundation
import OAuthBroker
import OAuthBrokerSQLite
import OAuthBrokerTesting
import Testing

/// The JSON depth limit at the 511/512/513 boundary through real stores: a token response whose extra field nests
/// that deep is stored, and every later read of the key (by a new store instance, as another process would) works.
@Suite("extra-field depth through SQLite and file stores")
struct ExtraFieldDepthStoreTests {
    /// A client-credentials response with an extra field of `levels` nested arrays around `1`.
    static func responder(levels: Int) -> FakeTransport.Responder {
        FakeTransport.Responder { _, number in
            let deep = String(repeating: "[", count: levels) + "1" + String(repeating: "]", count: levels)
            let body = #"{"access_token":"at-\#(number)","token_type":"Bearer","expires_in":3600,"deep":\#(deep)}"#
            return .response(FakeTransport.rawResponse(status: 200, contentType: "application/json", body: body))
        }
    }

    static func broker(store: any BrokerStore, transport: FakeTransport) throws
        -> Broker<FakeTransport, PassthroughErrorMapper>
    {
        let provider = try ProviderDescriptor(
            id: try ProviderID("p"), tokenEndpoint: URL(string: "https://idp.example.com/token")!, clientID: "c",
            clientSecret: Secret("s"), grants: [.clientCredentials])
        return try Broker(
            provider: provider, store: store, transport: transport, errorMapper: PassthroughErrorMapper())
    }

    @Test(
        "511 levels (the response object is level 1 of 512) are kept; 512 and 513 are dropped; all are readable",
        arguments: ["sqlite", "file"], [511, 512, 513])
    func boundary(kind: String, levels: Int) async throws {
        try await withTemporaryDirectory { directory in
            func open() async throws -> any BrokerStore {
                kind == "sqlite"
                    ? try await SQLiteStore(path: "\(directory)/tokens.sqlite")
                    : try FileStore(path: "\(directory)/tokens.json")
            }
            let transport = FakeTransport(responder: Self.responder(levels: levels))
            let key = try StoreKey(provider: "p", tenant: "t", principal: "svc")
            let token = try await Self.broker(store: try await open(), transport: transport).accessToken(for: key)
            #expect(token.value == Secret("at-1"))

            // A new store instance and a new broker: the record reads back, and no second token request is made.
            let reopened = try await open()
            let record = try #require(try await reopened.record(for: key))
            #expect(record.accessToken == Secret("at-1"))
            #expect((record.extraFields["deep"] != nil) == (levels < JSONValue.maximumDepth))
            let again = try await Self.broker(store: reopened, transport: transport).accessToken(for: key)
            #expect(again.value == Secret("at-1"))
            #expect(transport.requestCount == 1)
        }
    }
}
