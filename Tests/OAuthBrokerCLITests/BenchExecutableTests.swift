import Foundation
import OAuthBrokerTesting
import Testing

/// Runs `oauth-broker-bench` scenarios briefly and checks what they report: the line format, the IdP request
/// counts each scenario must produce, baselines and exit codes. No timing is asserted.
@Suite(.timeLimit(.minutes(2))) struct BenchExecutableTests {
    /// Runs the bench with `arguments`; returns its JSON lines and exit status.
    private func bench(_ arguments: [String]) async throws -> (lines: [[String: Any]], status: Int32) {
        let child = try ChildProcess(executable: try TestExecutable.path("oauth-broker-bench"), arguments: arguments)
        var lines: [[String: Any]] = []
        for await line in child.lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            lines.append(try #require(object as? [String: Any], "not a JSON object: \(line)"))
        }
        return (lines, await child.exitStatus())
    }

    private func withDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bench-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory.path)
    }

    @Test("cached prints one line per API with the required fields and no IdP request")
    func cached() async throws {
        let (lines, status) = try await bench(["cached", "--tasks", "4", "--seconds", "0.2"])
        #expect(status == 0)
        #expect(lines.map { $0["api"] as? String } == ["accessToken(for:)", "handle.accessToken()"])
        for line in lines {
            #expect(line["scenario"] as? String == "cached")
            #expect(line["store"] as? String == "memory")
            #expect(line["tasks"] as? Int == 4)
            #expect((line["ops"] as? Int ?? 0) > 0)
            #expect((line["ops_per_sec"] as? Double ?? 0) > 0)
            #expect(line["ns_per_op"] != nil)
            #expect(line["seconds"] != nil)
            #expect(line["idp_requests"] as? Int == 0)
        }
    }

    @Test("herd: 200 callers on a cold key make exactly one IdP request")
    func herd() async throws {
        let (lines, status) = try await bench(["herd", "--callers", "200"])
        #expect(status == 0)
        let line = try #require(lines.first)
        #expect(line["idp_requests"] as? Int == 1)
        #expect(line["distinct_tokens"] as? Int == 1)
        #expect(line["ops"] as? Int == 200)
        #expect(line["p99_us"] != nil)
        #expect(line["ok"] as? Bool == true)
    }

    @Test("keys: K cold keys make K requests; with latency a bound baseline and a ratio are printed")
    func keys() async throws {
        let (lines, status) = try await bench(["keys", "--keys", "30", "--concurrency", "6", "--idp-latency-ms", "5"])
        #expect(status == 0)
        #expect(lines.count == 2)
        let baseline = try #require(lines.first)
        #expect(baseline["baseline"] as? Bool == true)
        #expect(baseline["ops_per_sec"] as? Double == 1200)
        let measured = try #require(lines.last)
        #expect(measured["idp_requests"] as? Int == 30)
        #expect(measured["keys"] as? Int == 30)
        #expect(measured["ratio"] != nil)
        #expect(measured["ok"] as? Bool == true)
    }

    @Test(
        "keys --transport: both transports are measured, named in the line, and make K requests",
        arguments: ["curl", "ahc"])
    func keysPerTransport(transport: String) async throws {
        let (lines, status) = try await bench(["keys", "--keys", "20", "--concurrency", "4", "--transport", transport])
        #expect(status == 0)
        let measured = try #require(lines.last)
        #expect(measured["transport"] as? String == transport)
        #expect(measured["idp_requests"] as? Int == 20)
        #expect(measured["cpu_ns_per_op"] != nil)
        #expect((measured["connections_opened"] as? Int).map { (1...4).contains($0) } == true)
        #expect(measured["ok"] as? Bool == true)
    }

    @Test("keys-warm: cached keys make no request")
    func keysWarm() async throws {
        let (lines, status) = try await bench(["keys-warm", "--keys", "20", "--concurrency", "4", "--rounds", "5"])
        #expect(status == 0)
        let line = try #require(lines.first)
        #expect(line["idp_requests"] as? Int == 0)
        #expect(line["ops"] as? Int == 100)
    }

    @Test("store-fetch on SQLite prints the raw SELECT baseline and a ratio")
    func storeFetchSQLite() async throws {
        try await withDirectory { directory in
            let (lines, status) = try await bench([
                "store-fetch", "--store", "sqlite:\(directory)/t.sqlite", "--tasks", "2", "--seconds", "0.2",
            ])
            #expect(status == 0)
            #expect(lines.count == 2)
            #expect(lines.first?["baseline"] as? Bool == true)
            #expect((lines.first?["ops"] as? Int ?? 0) > 0)
            #expect(lines.last?["store"] as? String == "sqlite")
            #expect((lines.last?["ops"] as? Int ?? 0) > 0)
            #expect(lines.last?["ratio"] != nil)
        }
    }

    @Test("codec times plain and sealed encode and decode in one run; store-cas --sealed runs sealed")
    func codecAndSealed() async throws {
        let (lines, status) = try await bench(["codec", "--iterations", "2000"])
        #expect(status == 0)
        #expect(
            lines.map { "\($0["api"] ?? "")/\($0["codec"] ?? "")" } == [
                "encode/json", "encode/sealed", "decode/json", "decode/sealed",
            ])
        #expect(lines.filter { $0["ratio"] != nil }.count == 2)
        #expect(lines.filter { $0["baseline"] as? Bool == true }.count == 2)
        try await withDirectory { directory in
            let (lines, status) = try await bench([
                "store-cas", "--store", "sqlite:\(directory)/t.sqlite", "--tasks", "2", "--seconds", "0.2", "--sealed",
            ])
            #expect(status == 0)
            let line = try #require(lines.first)
            #expect(line["sealed"] as? Bool == true)
            #expect((line["ops"] as? Int ?? 0) > 0)
        }
    }

    @Test("store-cas on a file store swaps without conflicts")
    func storeCASFile() async throws {
        try await withDirectory { directory in
            let (lines, status) = try await bench([
                "store-cas", "--store", "file:\(directory)/t.json", "--tasks", "2", "--seconds", "0.2",
            ])
            #expect(status == 0)
            let line = try #require(lines.first)
            #expect(line["store"] as? String == "file")
            #expect((line["ops"] as? Int ?? 0) > 0)
        }
    }

    @Test("multiprocess-herd: processes sharing a SQLite store refresh once")
    func multiprocessHerd() async throws {
        try await withDirectory { directory in
            let (lines, status) = try await bench([
                "multiprocess-herd", "--processes", "3", "--store", "sqlite:\(directory)/mp.sqlite",
            ])
            #expect(status == 0)
            let line = try #require(lines.first)
            #expect(line["idp_requests"] as? Int == 1)
            #expect(line["failed_processes"] as? Int == 0)
            #expect(line["reuse_detected"] as? Int == 0)
            #expect(line["ok"] as? Bool == true)
        }
    }

    @Test("a memory store is refused for multiprocess-herd")
    func multiprocessNeedsSharedStore() async throws {
        let (_, status) = try await bench(["multiprocess-herd", "--store", "memory:"])
        #expect(status != 0)
    }
}
