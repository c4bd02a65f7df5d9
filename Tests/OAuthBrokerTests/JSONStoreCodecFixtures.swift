import Foundation
import OAuthBroker

/// Values whose format-1 blobs were produced by the `Codable`/`JSONEncoder` codec (the fixtures below are
/// literal output of that code, captured before it was replaced).
enum CodecFixtures {
    static let key = StoreKey(
        provider: try! ProviderID("p"), tenant: try! TenantID("t"), principal: try! PrincipalID("u"),
        scopes: ["read"])

    static let fullRecord = TokenRecord(
        accessToken: Secret("at-ü-\"q\"-\\-/-\n\t\u{01}\u{1F}\u{7F}-😀-\u{2028}-é"), refreshToken: Secret("rt/1"),
        tokenType: "Bearer", scopes: ["read", "write:all"],
        issuedAt: Date(timeIntervalSinceReferenceDate: 799_996_400.1234567),
        expiresAt: Date(timeIntervalSinceReferenceDate: 799_999_999.0000001), idToken: Secret("eyJ.id.sig"),
        extraFields: [
            "n": .number(1.5), "i": .number(42), "neg": .number(-0.25), "big": .number(1e21), "tiny": .number(1e-7),
            "s": .string("x/y \"z\""), "b": .bool(true), "f": .bool(false), "z": .null,
            "arr": .array([.number(1), .string("two"), .null, .array([]), .object([:])]),
            "o": .object(["k": .object(["deep": .array([.bool(false)])]), "A": .string("é")]),
            "a10": .number(10), "a9": .number(9), "B": .string("upper"), "_u": .number(0), "é": .number(-0.0),
        ],
        version: 1_831_975_315_128_320, status: .needsReauthorization)

    static let bareRecord = TokenRecord(
        accessToken: Secret("a"), issuedAt: Date(timeIntervalSinceReferenceDate: 0.000001), expiresAt: nil,
        version: 1, status: .active)

    static let session = AuthorizationSession(
        state: Secret("state-1"), codeVerifier: Secret("verifier-ü"), redirectURI: "https://app/cb?x=1&y=/",
        key: StoreKey(
            provider: try! ProviderID("prov"), tenant: try! TenantID("ten ant"), principal: try! PrincipalID("u@x"),
            scopes: ["b", "a"]),
        createdAt: Date(timeIntervalSinceReferenceDate: 799_996_400.5),
        expiresAt: Date(timeIntervalSinceReferenceDate: 799_996_700.25))

    /// Base64 of the blob the `JSONEncoder`-based codec wrote for ``fullRecord``.
    static let fullRecordBlob = Array(
        Data(
            base64Encoded:
                "eyJyZWNvcmQiOnsiYWNjZXNzX3Rva2VuIjoiYXQtw7wtXCJxXCItXFwtLy1cblx0XHUwMDAxXHUwMDFmfy3wn5iALeKAqC3DqSIs"
                + "ImV4cGlyZXNfYXQiOjc5OTk5OTk5OS4wMDAwMDAxLCJleHRyYSI6eyJCIjoidXBwZXIiLCJfdSI6MCwiYTEwIjoxMCwiYTkiOjks"
                + "ImFyciI6WzEsInR3byIsbnVsbCxbXSx7fV0sImIiOnRydWUsImJpZyI6MWUrMjEsImYiOmZhbHNlLCJpIjo0MiwibiI6MS41LCJu"
                + "ZWciOi0wLjI1LCJvIjp7IkEiOiLDqSIsImsiOnsiZGVlcCI6W2ZhbHNlXX19LCJzIjoieC95IFwielwiIiwidGlueSI6MWUtMDcs"
                + "InoiOm51bGwsIsOpIjotMH0sImlkX3Rva2VuIjoiZXlKLmlkLnNpZyIsImlzc3VlZF9hdCI6Nzk5OTk2NDAwLjEyMzQ1NjcsInJl"
                + "ZnJlc2hfdG9rZW4iOiJydC8xIiwic2NvcGVzIjpbInJlYWQiLCJ3cml0ZTphbGwiXSwic3RhdHVzIjoibmVlZHNfcmVhdXRob3Jp"
                + "emF0aW9uIiwidG9rZW5fdHlwZSI6IkJlYXJlciIsInZlcnNpb24iOjE4MzE5NzUzMTUxMjgzMjB9LCJ2IjoxfQ==")!)

    /// Base64 of the blob the `JSONEncoder`-based codec wrote for ``bareRecord``.
    static let bareRecordBlob = Array(
        Data(
            base64Encoded:
                "eyJyZWNvcmQiOnsiYWNjZXNzX3Rva2VuIjoiYSIsImV4dHJhIjp7fSwiaXNzdWVkX2F0IjoxZS0wNiwic2NvcGVzIjpbXSwic3Rh"
                + "dHVzIjoiYWN0aXZlIiwidG9rZW5fdHlwZSI6IkJlYXJlciIsInZlcnNpb24iOjF9LCJ2IjoxfQ==")!)

    /// Base64 of the blob the `JSONEncoder`-based codec wrote for ``session``.
    static let sessionBlob = Array(
        Data(
            base64Encoded:
                "eyJzZXNzaW9uIjp7ImNvZGVfdmVyaWZpZXIiOiJ2ZXJpZmllci3DvCIsImNyZWF0ZWRfYXQiOjc5OTk5NjQwMC41LCJleHBpcmVz"
                + "X2F0Ijo3OTk5OTY3MDAuMjUsImtleSI6eyJwcmluY2lwYWwiOiJ1QHgiLCJwcm92aWRlciI6InByb3YiLCJzY29wZXMiOlsiYSIs"
                + "ImIiXSwidGVuYW50IjoidGVuIGFudCJ9LCJyZWRpcmVjdF91cmkiOiJodHRwczovL2FwcC9jYj94PTEmeT0vIiwic3RhdGUiOiJz"
                + "dGF0ZS0xIn0sInYiOjF9")!)
}
