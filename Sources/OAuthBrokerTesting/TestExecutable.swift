import Foundation
import OAuthBroker

/// Finds the package's executables (for example `oauth-broker-test-helper`) from inside a test process.
///
/// `swift test` builds every product of the package, executables included, into the same directory as the test
/// bundle (`.build/debug/` or `.build/release/`). The lookup order is: the environment variable
/// `OAUTH_BROKER_BIN_DIR`, the directory of the running test bundle (`CommandLine.arguments[0]`, which is the
/// `.xctest` binary on Linux), then the `.build/<configuration>` directories next to the package root.
public enum TestExecutable {
    /// The path of the executable `name`.
    /// - Parameter name: The executable product name, for example `"oauth-broker-test-helper"`.
    /// - Returns: An absolute path to an executable file.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) naming every
    ///   place searched, with a hint to run `swift build` first.
    public static func path(_ name: String, filePath: String = #filePath) throws -> String {
        var candidates: [String] = []
        if let directory = ProcessInfo.processInfo.environment["OAUTH_BROKER_BIN_DIR"] {
            candidates.append(directory + "/" + name)
        }
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = argv0.deletingLastPathComponent()
        // On macOS the bundle is a directory (`X.xctest/Contents/MacOS/X`): climb out of it.
        while directory.path.contains(".xctest") && directory.path != "/" { directory.deleteLastPathComponent() }
        candidates.append(directory.appendingPathComponent(name).path)
        // Fall back to the package's own build directories, found from this source file's location.
        var root = URL(fileURLWithPath: filePath)
        while root.path != "/"
            && !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path)
        {
            root.deleteLastPathComponent()
        }
        for configuration in ["debug", "release"] {
            candidates.append(root.appendingPathComponent(".build/\(configuration)/\(name)").path)
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw BrokerError(
            .invalidConfiguration,
            "executable '\(name)' not found (looked in: \(candidates.joined(separator: ", "))); "
                + "run `swift build` (or `swift test`, which builds every executable) first, "
                + "or set OAUTH_BROKER_BIN_DIR")
    }
}
