internal import Crypto

/// Proof Key for Code Exchange (RFC 7636) with the S256 method, and random `state` values.
public enum PKCE {
    /// Makes a code verifier: `byteCount` bytes from the system CSPRNG, base64url-encoded without padding.
    ///
    /// - Parameter byteCount: 32 to 96 bytes, giving 43 to 128 characters as RFC 7636 §4.1 requires.
    /// - Returns: The verifier, wrapped so it never prints.
    public static func makeVerifier(byteCount: Int = 32) -> Secret {
        precondition((32...96).contains(byteCount), "a PKCE verifier needs 32 to 96 random bytes")
        return Secret(Base64URL.encode(randomBytes(byteCount)))
    }

    /// The S256 challenge for `verifier`: base64url(SHA-256(ASCII(verifier))), no padding.
    public static func challenge(for verifier: Secret) -> String {
        Base64URL.encode(Array(SHA256.hash(data: Array(verifier.revealedValue.utf8))))
    }

    /// Whether `verifier` is 43 to 128 characters of RFC 7636's `unreserved` set.
    public static func isValidVerifier(_ verifier: String) -> Bool {
        (43...128).contains(verifier.utf8.count)
            && verifier.utf8.allSatisfy { byte in
                (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                    || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            }
    }

    /// Makes an unguessable `state`: 32 bytes from the system CSPRNG, base64url-encoded.
    public static func makeState() -> Secret { Secret(Base64URL.encode(randomBytes(32))) }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
