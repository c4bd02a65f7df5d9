import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `oauth-broker rekey`: re-seals every record and pending session under the key file's first key.
struct RekeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Re-seal every stored record and pending session under the first key of --store-keys.",
        discussion: """
            Every record is read first; if one is sealed under a key id the key file lacks (exit 2) or fails to \
            open (exit 1), nothing is changed. Then sessions and records are rewritten under the first key, each \
            record by compare-and-swap while holding its refresh lease (its version goes up by one). Plain records \
            written before sealing was turned on are sealed too. Prints 'rekey: N records re-sealed under KEY_ID'; \
            sessions are re-sealed and not counted. Afterwards keys listed after the first can be removed.
            """)

    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        guard let codec = try storeOptions.sealingCodec() else {
            throw BrokerError(
                .invalidConfiguration, "rekey needs --store-keys FILE (or \(StoreKeyFile.environmentVariable))")
        }
        let (url, opened) = try await storeOptions.open()
        guard let store = opened as? any ResealableStore else {
            throw BrokerError(.invalidConfiguration, "--store: a \(url.kind) store cannot be re-sealed")
        }
        let report = try await store.resealAll()
        Output.line("rekey: \(report.records) records re-sealed under \(codec.currentKeyID)")
    }
}
