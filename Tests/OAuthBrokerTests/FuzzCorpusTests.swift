import Foundation
import OAuthBroker
import OAuthBrokerFuzzing
import Testing

/// Replays the checked-in seed corpus (and any crash input added to it as a regression) through every fuzz target,
/// so the targets' promises hold on each `swift test`; `scripts/fuzz.sh` runs the same targets under libFuzzer.
@Suite("Fuzz corpus replay")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    static func inputs(of target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        let directory = corpus.appendingPathComponent(target.rawValue)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map { name in
            (name, Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    @Test("every seed input runs through its target without breaking a promise", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) throws {
        let inputs = try Self.inputs(of: target)
        #expect(!inputs.isEmpty, "no seed inputs for \(target.rawValue)")
        for input in inputs { target.run(input.bytes) }
    }

    @Test("the seeds reach the promises: seed token responses and stored blobs are accepted by their parsers")
    func seedsAreAccepted() throws {
        // Seeds named rejected-* are there to start the fuzzer at inputs the parser must refuse.
        for input in try Self.inputs(of: .tokenResponse) {
            let accepted = (try? TokenResponse(parsing: Data(input.bytes))) != nil
            #expect(accepted == !input.name.hasPrefix("rejected-"), "\(input.name): accepted \(accepted)")
        }
        let key = try StoreKey(provider: "fuzz", tenant: "tenant", principal: "principal")
        for input in try Self.inputs(of: .recordCodec) {
            #expect((try? JSONStoreCodec().decodeRecord(input.bytes, for: key)) != nil, "\(input.name) is refused")
        }
    }
}
