import CCurl

/// libcurl's process-wide initialisation, done exactly once.
///
/// `curl_global_init` is not thread-safe against itself, so it runs inside a `static let` initialiser, which Swift
/// runs once (with `swift_once`) however many transports are created at the same time.
enum CurlGlobal {
    /// The `CURLcode` of the one `curl_global_init` call.
    private static let initializationCode: UInt32 = curl_global_init(Int(CURL_GLOBAL_DEFAULT)).rawValue

    /// Initialises libcurl on first use.
    /// - Throws: ``CurlError`` when libcurl could not initialise.
    static func ensureInitialized() throws(CurlError) {
        let code = initializationCode
        guard code == CURLE_OK.rawValue else {
            throw CurlError(.curl, curlCode: Int(code), message: "libcurl could not initialise")
        }
    }

    /// libcurl's version string (`libcurl/7.88.1 OpenSSL/3.0.19 …`).
    static var versionDescription: String { String(cString: curl_version()) }

    /// The static English text libcurl gives for `code` (never a URL or a header).
    static func describe(_ code: CURLcode) -> String { String(cString: curl_easy_strerror(code)) }
}
