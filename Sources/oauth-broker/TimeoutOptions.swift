import ArgumentParser
import OAuthBroker

/// `--request-timeout`, `--total-timeout`, `--lease-ttl`, `--store-write-timeout`: the broker's deadlines, for the
/// commands that talk to the provider (through ``BrokerOptions``).
///
/// Values are checked while the arguments are parsed, before a provider file, a store or the network is touched:
/// a bad value, or a total timeout shorter than the request timeout once the defaults are filled in, ends the
/// command with status 2 and one line naming the flag. The total timeout is never raised for the user.
struct TimeoutOptions: ParsableArguments {
    @Option(help: ArgumentHelp(Help.request, valueName: "seconds"))
    var requestTimeout: String?

    @Option(help: ArgumentHelp(Help.total, valueName: "seconds"))
    var totalTimeout: String?

    @Option(name: .customLong("lease-ttl"), help: ArgumentHelp(Help.lease, valueName: "seconds"))
    var leaseTimeToLive: String?

    @Option(help: ArgumentHelp(Help.storeWrite, valueName: "seconds"))
    var storeWriteTimeout: String?

    /// The library's defaults, used for every flag not given.
    private static let defaults = BrokerConfiguration()
    /// The shortest lease the broker accepts.
    private static let minimumLeaseTimeToLive = Seconds(milliseconds: 100)

    /// The help texts. Each stands alone: what the value bounds, its unit, its default (taken from the library,
    /// so the help cannot drift from it) and how it relates to the others.
    private enum Help {
        static let defaults = TimeoutOptions.defaults
        static let minimumLease = TimeoutOptions.minimumLeaseTimeToLive
        static let request =
            "The most one HTTP request to the provider may take, in seconds (e.g. 2.5); each retry gets its own. "
            + "Default \(Seconds(defaults.requestTimeout)). At most --total-timeout."
        static let total =
            "The most the command's work with the provider may take in all, in seconds (e.g. 2.5): every "
            + "attempt, the backoff between retries, waiting for another process's refresh. Default "
            + "\(Seconds(defaults.totalTimeout)). Must be at least --request-timeout (or its default); it is not "
            + "raised for you."
        static let lease =
            "How long, in seconds (e.g. 2.5), the refresh lease this process takes in a shared store lives if "
            + "the process dies: how long other processes wait before taking over. Default "
            + "\(Seconds(defaults.leaseTimeToLive)). \(minimumLease) or more, whatever --request-timeout is "
            + "(the holder renews the lease while it works)."
        static let storeWrite =
            "How long, in seconds (e.g. 2.5), storing a token the provider has already issued keeps being "
            + "retried while the store fails with a transient error (busy, locked, unreachable). Default "
            + "\(Seconds(defaults.storeWriteTimeout)). Separate from --total-timeout. Waiting for another "
            + "connection's lock counts: no single store call waits longer than this."
    }

    /// The four values, defaults filled in.
    private struct Values {
        var request: Seconds
        var total: Seconds
        var leaseTimeToLive: Seconds
        var storeWrite: Seconds
    }

    func validate() throws {
        _ = try values()
    }

    /// Sets the four deadlines of `configuration`.
    /// - Throws: `ValidationError` naming the first bad flag.
    func apply(to configuration: inout BrokerConfiguration) throws {
        let values = try values()
        configuration.requestTimeout = values.request.duration
        configuration.totalTimeout = values.total.duration
        configuration.leaseTimeToLive = values.leaseTimeToLive.duration
        configuration.storeWriteTimeout = values.storeWrite.duration
    }

    /// Parses every flag given, fills in the defaults, and checks the total against the request timeout.
    /// - Throws: `ValidationError` naming the first bad flag.
    private func values() throws -> Values {
        let defaults = Self.defaults
        let values = Values(
            request: try Self.parse(requestTimeout, flag: "--request-timeout") ?? Seconds(defaults.requestTimeout),
            total: try Self.parse(totalTimeout, flag: "--total-timeout") ?? Seconds(defaults.totalTimeout),
            leaseTimeToLive: try Self.parse(leaseTimeToLive, flag: "--lease-ttl", minimum: Self.minimumLeaseTimeToLive)
                ?? Seconds(defaults.leaseTimeToLive),
            storeWrite: try Self.parse(storeWriteTimeout, flag: "--store-write-timeout")
                ?? Seconds(defaults.storeWriteTimeout))
        guard values.total >= values.request else {
            switch (requestTimeout, totalTimeout) {
            case (_?, nil):
                throw ValidationError(
                    "--request-timeout (\(values.request) s) is longer than the default --total-timeout "
                        + "(\(values.total) s); pass a --total-timeout of at least \(values.request)")
            case (nil, _):
                throw ValidationError(
                    "--total-timeout must be at least --request-timeout (\(values.request) s by default)")
            default:
                throw ValidationError("--total-timeout must be at least --request-timeout (\(values.request) s)")
            }
        }
        return values
    }

    /// `nil` for a flag not given; else its value, which must be a number of seconds in `minimum...maximum`.
    private static func parse(_ text: String?, flag: String, minimum: Seconds = Seconds(milliseconds: 1)) throws
        -> Seconds?
    {
        guard let text else { return nil }
        let shown = text.count <= 16 ? "'\(text)'" : "'\(text.prefix(16))…'"
        guard let value = Seconds(parsing: text) else {
            throw ValidationError(
                "\(flag) must be a positive number of seconds such as 5 or 0.25 (up to 3 decimals, at most "
                    + "\(Seconds.maximum)), not \(shown)")
        }
        guard value >= minimum else {
            throw ValidationError(
                minimum.milliseconds == 1
                    ? "\(flag) must be more than 0 seconds, not \(shown)"
                    : "\(flag) must be at least \(minimum) seconds, not \(shown)")
        }
        return value
    }
}
