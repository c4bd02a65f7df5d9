public import Foundation

/// What the broker reads from a response besides its body: the status and the `Retry-After` hint.
public struct ResponseMetadata: Sendable, Hashable {
    /// The HTTP status.
    public var status: Int
    /// The delay asked for by `Retry-After` (delay-seconds or an HTTP-date, RFC 9110 §10.2.3), clamped at zero.
    public var retryAfter: Duration?
    /// The media type of the body, lower-cased and without parameters (`application/json`).
    public var contentType: String?

    /// Creates metadata.
    public init(status: Int, retryAfter: Duration? = nil, contentType: String? = nil) {
        self.status = status
        self.retryAfter = retryAfter
        self.contentType = contentType
    }

    /// Reads the metadata of `response`.
    /// - Parameter now: The current time, against which an HTTP-date `Retry-After` is measured.
    public init(_ response: TransportResponse, now: Date) {
        status = response.status
        retryAfter = response.headers["Retry-After"].flatMap { Self.parseRetryAfter($0, now: now) }
        contentType = response.headers["Content-Type"].map {
            $0.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                ?? ""
        }
    }

    /// Parses a `Retry-After` value: a non-negative integer of seconds, or an HTTP-date in any of the three
    /// formats RFC 9110 §5.6.7 requires recipients to accept. Returns `nil` for anything else.
    public static func parseRetryAfter(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            guard let seconds = Int64(trimmed.prefix(12)) else { return nil }
            return .seconds(seconds)
        }
        for formatter in HTTPDate.formatters {
            if let date = formatter.date(from: trimmed) {
                let delay = max(0, date.timeIntervalSince(now))
                return .milliseconds(Int64((delay * 1000).rounded(.up)))
            }
        }
        return nil
    }
}

/// HTTP-date parsers: IMF-fixdate, the obsolete RFC 850 form, and asctime.
enum HTTPDate {
    // DateFormatter is thread-safe for parsing on Linux and Apple platforms since macOS 10.9.
    static let formatters: [DateFormatter] = [
        "EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy",
    ].map { format in
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = format
        return formatter
    }
}
