import Crypto
import Foundation
package import NIOSSL
import SwiftASN1
import X509

/// A certificate authority made for one test run (P-256, valid from an hour ago for a day), and server
/// certificates it issues for loopback.
///
/// The CA's certificate is written to a PEM file (``caBundlePath``) that a transport can be told to trust.
package struct TestCertificateAuthority: Sendable {
    /// The CA certificate, PEM.
    package let caPEM: String
    private let caCertificate: Certificate
    private let caKey: Certificate.PrivateKey

    /// Makes a new CA with a fresh key.
    /// - Parameter name: The CA's common name.
    package init(name: String = "oauth-broker test CA") throws {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName { CommonName(name) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: key)
        self.caCertificate = certificate
        self.caKey = key
        self.caPEM = try certificate.serializeAsPEM().pemString
    }

    /// A server TLS context whose certificate, signed by this CA, names `dnsNames` and `ipAddresses` (IPv4).
    /// - Parameters:
    ///   - dnsNames: Subject alternative DNS names.
    ///   - ipAddresses: Subject alternative IPv4 addresses, dotted (`127.0.0.1`).
    package func serverContext(dnsNames: [String] = ["localhost"], ipAddresses: [String] = ["127.0.0.1"]) throws
        -> NIOSSLContext
    {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let now = Date()
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            let bytes = address.split(separator: ".").compactMap { UInt8($0) }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86_400),
            issuer: caCertificate.subject, subject: try DistinguishedName { CommonName(dnsNames.first ?? "server") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: caKey)
        let certificatePEM = try certificate.serializeAsPEM().pemString
        let keyPEM = try key.serializeAsPEM().pemString
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)))
        return try NIOSSLContext(configuration: configuration)
    }

    /// Writes the CA certificate to `directory/ca.pem` and returns the path.
    package func writeBundle(in directory: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent("ca-\(UInt32.random(in: 0...UInt32.max)).pem")
        try Data(caPEM.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
