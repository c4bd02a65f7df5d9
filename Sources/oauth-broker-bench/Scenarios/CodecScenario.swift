import ArgumentParser
import Foundation
import OAuthBroker

/// `codec`: encodes and decodes a typical record N times on one thread with the plain ``JSONStoreCodec`` (the
/// baseline) and with ``SealingStoreCodec`` (AES-256-GCM), in one run, so the cost of sealing reads as a ratio.
struct CodecScenario: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Record codec cost: N encodes and N decodes of a typical record, plain JSON vs sealed.")

    @Option(help: "Operations per measurement.")
    var iterations: Int = 200_000

    func validate() throws {
        guard iterations > 0, iterations <= 100_000_000 else {
            throw ValidationError("--iterations must be in 1...100000000")
        }
    }

    func run() throws {
        let key = try benchKey("codec", run: 0, index: 0)
        let record = sampleRecord()
        let plain = JSONStoreCodec()
        let sealed = try SealingStoreCodec(keys: [.random(id: "bench-current"), .random(id: "bench-old")])
        let plainBlob = try plain.encode(record, for: key)
        let sealedBlob = try sealed.encode(record, for: key)
        let plainEncode = try measure("encode", "json", bytes: plainBlob.count, ratioTo: nil) {
            try plain.encode(record, for: key).count
        }
        _ = try measure("encode", "sealed", bytes: sealedBlob.count, ratioTo: plainEncode) {
            try sealed.encode(record, for: key).count
        }
        let plainDecode = try measure("decode", "json", bytes: plainBlob.count, ratioTo: nil) {
            Int(truncatingIfNeeded: try plain.decodeRecord(plainBlob, for: key).version)
        }
        _ = try measure("decode", "sealed", bytes: sealedBlob.count, ratioTo: plainDecode) {
            Int(truncatingIfNeeded: try sealed.decodeRecord(sealedBlob, for: key).version)
        }
    }

    /// Runs `operation` ``iterations`` times (after a short warm-up), prints a line, and returns the rate.
    private func measure(
        _ api: String, _ codec: String, bytes: Int, ratioTo reference: Double?, _ operation: () throws -> Int
    ) throws -> Double {
        let (result, sink) = try Throughput.loop(iterations: iterations, operation)
        var line = JSONLine(scenario: "codec")
        line.set("api", api)
        line.set("codec", codec)
        if reference == nil { line.set("baseline", true) }
        line.set("blob_bytes", bytes)
        line.emit(loop: result, sink: sink, ratioTo: reference)
        return result.perSecond
    }
}
