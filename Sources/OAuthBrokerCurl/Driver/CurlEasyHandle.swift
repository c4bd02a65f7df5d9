import CCurl
import CCurlShims
import Foundation
import OAuthBroker

/// One libcurl easy handle and the response it is receiving.
///
/// Not `Sendable`: a handle is created, configured, transferred on and freed only on the driver thread of its
/// ``CurlMultiDriver``. The C callbacks receive it through `userdata` as an unretained reference; the driver's
/// table of active transfers keeps it alive for as long as libcurl may call them.
final class CurlEasyHandle {
    let raw: UnsafeMutableRawPointer
    /// The transfer this handle is working on, between ``configure(for:configuration:)`` and ``recycle()``.
    private(set) var transfer: PendingTransfer?
    /// The host of the current transfer, for error messages.
    private(set) var host = "the endpoint"
    private var requestHeaders: UnsafeMutablePointer<curl_slist>?
    private var responseHeaders: [TransportHeaders.Field] = []
    private var responseBody = Data()
    private var bodyLimit = 0
    /// Set by the write callback when the body went over the limit (the transfer then fails with a write error).
    private(set) var exceededBodyLimit = false

    /// Creates a handle, or returns `nil` when libcurl cannot allocate one.
    init?() {
        guard let raw = curl_easy_init() else { return nil }
        self.raw = raw
    }

    deinit {
        curl_easy_cleanup(raw)
        curl_slist_free_all(requestHeaders)
    }

    // MARK: - Configuration

    /// Sets every option for `transfer`'s request.
    /// - Throws: ``CurlError`` for a request that cannot be sent (``CurlError/Kind/invalidRequest``) or an option
    ///   this libcurl rejects.
    func configure(for transfer: PendingTransfer, configuration: CurlTransport.Configuration) throws(CurlError) {
        let request = transfer.request
        self.transfer = transfer
        host = request.url.host ?? "the endpoint"
        bodyLimit = configuration.maximumResponseBodyBytes

        let method = request.method.uppercased()
        guard HeaderGrammar.isToken(method) else { throw invalid("the HTTP method is not a valid token") }

        try set(CURLOPT_URL, request.url.absoluteString)
        try check(CCurlShims_easy_restrict_to_http(raw))
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_TIMEOUT_MS, (request.timeout ?? configuration.requestTimeout).curlMilliseconds)
        try set(CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.curlMilliseconds)
        try check(CCurlShims_easy_setopt_off(raw, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(bodyLimit)))
        try set(CURLOPT_USERAGENT, configuration.userAgent)
        try set(CURLOPT_SSL_VERIFYPEER, configuration.verifiesPeer ? 1 : 0)
        try set(CURLOPT_SSL_VERIFYHOST, configuration.verifiesHost ? 2 : 0)
        if let path = configuration.caBundlePath { try set(CURLOPT_CAINFO, path) }
        if let path = configuration.caDirectoryPath { try set(CURLOPT_CAPATH, path) }
        if let path = configuration.clientCertificatePath { try set(CURLOPT_SSLCERT, path) }
        if let path = configuration.clientKeyPath { try set(CURLOPT_SSLKEY, path) }
        // An empty string disables proxies, including the ones named by environment variables.
        try set(CURLOPT_PROXY, configuration.proxyURL ?? "")

        switch method {
        case "GET":
            guard request.body.isEmpty else { throw invalid("a GET request cannot carry a body") }
            try set(CURLOPT_HTTPGET, 1)
        case "HEAD":
            guard request.body.isEmpty else { throw invalid("a HEAD request cannot carry a body") }
            try set(CURLOPT_NOBODY, 1)
        case "POST":
            try setBody(request.body)
        default:
            if !request.body.isEmpty { try setBody(request.body) }
            try set(CURLOPT_CUSTOMREQUEST, method)
        }
        try setHeaders(request.headers)

        let userdata = Unmanaged.passUnretained(self).toOpaque()
        try check(CCurlShims_easy_setopt_callback(raw, CURLOPT_WRITEFUNCTION, curlWriteCallback))
        try check(CCurlShims_easy_setopt_pointer(raw, CURLOPT_WRITEDATA, userdata))
        try check(CCurlShims_easy_setopt_callback(raw, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
        try check(CCurlShims_easy_setopt_pointer(raw, CURLOPT_HEADERDATA, userdata))
    }

    /// Sets a form or other body; libcurl copies it (`CURLOPT_COPYPOSTFIELDS`), so it need not outlive this call.
    private func setBody(_ body: Data) throws(CurlError) {
        try check(CCurlShims_easy_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
        let code = body.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { return CCurlShims_easy_setopt_pointer(raw, CURLOPT_COPYPOSTFIELDS, base) }
            return "".withCString { CCurlShims_easy_setopt_pointer(raw, CURLOPT_COPYPOSTFIELDS, $0) }
        }
        try check(code)
    }

    /// Builds the header list. `Content-Length` is always computed from the body, so a given one is dropped;
    /// `Expect: 100-continue` is suppressed unless the request sets `Expect` itself.
    private func setHeaders(_ headers: TransportHeaders) throws(CurlError) {
        var lines: [String] = []
        var hasExpect = false
        for field in headers {
            guard HeaderGrammar.isToken(field.name) else { throw invalid("a header name is not a valid token") }
            guard !field.value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw invalid("the value of header \(field.name) contains a line break")
            }
            let name = field.name.lowercased()
            if name == "content-length" { continue }
            if name == "expect" { hasExpect = true }
            // libcurl reads `Name:` as "remove this header" and `Name;` as "send it empty".
            let value = field.value.trimmingCharacters(in: .whitespaces)
            lines.append(value.isEmpty ? "\(field.name);" : "\(field.name): \(value)")
        }
        if !hasExpect { lines.append("Expect:") }
        for line in lines {
            guard let list = curl_slist_append(requestHeaders, line) else {
                throw CurlError(.curl, curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "out of memory")
            }
            requestHeaders = list
        }
        try check(CCurlShims_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, requestHeaders))
    }

    private func set(_ option: CURLoption, _ value: Int) throws(CurlError) {
        try check(CCurlShims_easy_setopt_long(raw, option, value))
    }

    private func set(_ option: CURLoption, _ value: String) throws(CurlError) {
        try check(CCurlShims_easy_setopt_string(raw, option, value))
    }

    private func check(_ code: CURLcode) throws(CurlError) {
        guard code == CURLE_OK else {
            throw CurlError(
                .curl, curlCode: Int(code.rawValue),
                message: "could not configure the request to \(host): \(CurlGlobal.describe(code))")
        }
    }

    private func invalid(_ message: String) -> CurlError {
        CurlError(.invalidRequest, message: "request to \(host): \(message)")
    }

    // MARK: - Receiving

    /// Appends body bytes, or returns `false` (abort) when they would pass the limit.
    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard responseBody.count + bytes.count <= bodyLimit else {
            exceededBodyLimit = true
            return false
        }
        responseBody.append(contentsOf: bytes)
        return true
    }

    /// Records one header line. A status line starts a new response (after a 1xx or any interim response), so
    /// only the final response's fields are kept.
    fileprivate func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        // Strip the line ending as bytes: in a Swift String, "\r\n" is one Character.
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: "\n") || bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            responseHeaders.removeAll(keepingCapacity: true)
            return
        }
        if line.isEmpty { return }
        if line.first == " " || line.first == "\t" {
            // An obsolete folded continuation line (RFC 9112 §5.2).
            if var last = responseHeaders.popLast() {
                last.value += " " + line.trimmingCharacters(in: .whitespaces)
                responseHeaders.append(last)
            }
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon])
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        responseHeaders.append(TransportHeaders.Field(name: name, value: value))
    }

    /// The response received, once the transfer finished with `CURLE_OK`.
    func response() -> TransportResponse {
        var status = 0
        _ = CCurlShims_easy_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &status)
        return TransportResponse(status: status, headers: TransportHeaders(responseHeaders), body: responseBody)
    }

    /// The number of new connections the last transfer opened (`CURLINFO_NUM_CONNECTS`).
    func connectionsOpened() -> Int {
        var count = 0
        _ = CCurlShims_easy_getinfo_long(raw, CURLINFO_NUM_CONNECTS, &count)
        return count
    }

    /// Forgets the transfer and resets every option (`curl_easy_reset`), ready for another request. The connection
    /// cache belongs to the multi handle, so keep-alive connections survive.
    func recycle() {
        curl_easy_reset(raw)
        curl_slist_free_all(requestHeaders)
        requestHeaders = nil
        transfer = nil
        host = "the endpoint"
        responseHeaders.removeAll()
        responseBody = Data()
        bodyLimit = 0
        exceededBodyLimit = false
    }
}

/// `CURLOPT_WRITEFUNCTION`: a non-capturing closure; the handle comes through `userdata`.
private let curlWriteCallback: CCurlShims_data_callback = { data, size, count, userdata in
    let handle = Unmanaged<CurlEasyHandle>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    // Returning anything but `length` makes libcurl abort the transfer with CURLE_WRITE_ERROR.
    return handle.receiveBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

/// `CURLOPT_HEADERFUNCTION`: called once per header line, status line and final empty line included.
private let curlHeaderCallback: CCurlShims_data_callback = { data, size, count, userdata in
    let handle = Unmanaged<CurlEasyHandle>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    handle.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
    return length
}
