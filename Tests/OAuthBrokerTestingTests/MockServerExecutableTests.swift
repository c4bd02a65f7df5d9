import Foundation
import OAuthBroker
import Testing

/// The `mock-authorization-server` binary, built by `swift build` next to the test bundle.
private let executable: URL? = {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent(),
    ].map { $0.appendingPathComponent("mock-authorization-server") }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

/// Runs the executable and reads its output without blocking a cooperative thread.
private final class ServerProcess: Sendable {
    let process: Process
    let lines: AsyncStream<String>
    let exit: AsyncStream<Int32>

    init(_ executable: URL, arguments: [String]) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let (lines, lineSink) = AsyncStream<String>.makeStream()
        let (exit, exitSink) = AsyncStream<Int32>.makeStream()
        self.lines = lines
        self.exit = exit
        let buffer = LineBuffer()
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                lineSink.finish()
                return
            }
            for line in buffer.append(data) { lineSink.yield(line) }
        }
        process.terminationHandler = { process in
            exitSink.yield(process.terminationStatus)
            exitSink.finish()
        }
        try process.run()
    }

    /// The first output line, or `nil` if none arrives within `timeout`.
    func firstLine(timeout: Duration) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await line in self.lines { return line }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// The exit status, or `nil` if the process does not exit within `timeout`.
    func exitStatus(timeout: Duration) async -> Int32? {
        await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                for await status in self.exit { return status }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// Splits bytes into lines; only touched from the pipe's readability handler (one at a time).
private final class LineBuffer: @unchecked Sendable {
    private var pending = Data()

    func append(_ data: Data) -> [String] {
        pending.append(data)
        var lines: [String] = []
        while let newline = pending.firstIndex(of: 0x0A) {
            lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
            pending.removeSubrange(pending.startIndex...newline)
        }
        return lines
    }
}

@Suite("mock-authorization-server executable")
struct MockServerExecutableTests {
    @Test(
        "prints its port, serves registered clients, and exits cleanly on SIGTERM",
        .enabled(
            if: executable != nil, "needs the mock-authorization-server binary next to the test bundle (swift build)"))
    func runsUntilSignalled() async throws {
        let server = try ServerProcess(
            try #require(executable),
            arguments: [
                "--port", "0", "--client", "app:p@ss:word", "--client", "acme/tenant-app:t", "--token-lifetime", "42",
            ])
        defer { if server.process.isRunning { server.process.terminate() } }

        let line = try #require(await server.firstLine(timeout: .seconds(30)))
        #expect(line.hasPrefix("listening on http://127.0.0.1:"))
        let base = try #require(URL(string: String(line.dropFirst("listening on ".count))))
        #expect((base.port ?? 0) > 0)

        let token = try await LoopbackHTTP.post(
            base.appendingPathComponent("token"), form: [("grant_type", "client_credentials")],
            basic: ("app", "p@ss:word"))
        #expect(token.status == 200)
        #expect(token.integer("expires_in") == 42)
        let tenant = try await LoopbackHTTP.post(
            base.appendingPathComponent("tenants/acme/token"), form: [("grant_type", "client_credentials")],
            basic: ("tenant-app", "t"))
        #expect(tenant.status == 200)

        kill(server.process.processIdentifier, SIGTERM)
        #expect(await server.exitStatus(timeout: .seconds(30)) == 0)
    }
}
