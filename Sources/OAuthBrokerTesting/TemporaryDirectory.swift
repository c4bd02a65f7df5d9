import Foundation

/// A fresh directory under the system temporary directory, removed with its content when the body returns.
///
/// - Parameters:
///   - prefix: The start of the directory name, to recognise leftovers.
///   - body: Receives the directory's path.
/// - Returns: What `body` returns.
/// - Throws: What `body` throws, or a Foundation error if the directory cannot be created.
public func withTemporaryDirectory<T>(
    prefix: String = "oauth-broker-test", _ body: (String) async throws -> T
) async throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(getpid())-\(UInt64.random(in: .min ... .max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
}
