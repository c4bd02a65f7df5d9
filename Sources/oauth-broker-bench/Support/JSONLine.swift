import Foundation

/// One JSON object printed on one line, with its fields in insertion order (so the lines read well).
struct JSONLine {
    private var fields: [(String, String)] = []

    init(scenario: String) {
        set("scenario", scenario)
    }

    mutating func set(_ name: String, _ value: String?) {
        put(name, value.map(Self.quote) ?? "null")
    }

    mutating func set(_ name: String, _ value: Int?) {
        put(name, value.map(String.init) ?? "null")
    }

    mutating func set(_ name: String, _ value: Bool) {
        put(name, value ? "true" : "false")
    }

    /// A finite number with at most `digits` digits after the point (trailing zeros dropped); `null` otherwise.
    mutating func set(_ name: String, _ value: Double?, digits: Int = 3) {
        guard let value, value.isFinite else { return put(name, "null") }
        var text = String(format: "%.\(digits)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        put(name, text)
    }

    private mutating func put(_ name: String, _ encoded: String) {
        if let index = fields.firstIndex(where: { $0.0 == name }) {
            fields[index].1 = encoded
        } else {
            fields.append((name, encoded))
        }
    }

    /// The JSON text.
    var text: String {
        "{" + fields.map { "\(Self.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Prints the line to standard output and flushes it.
    func emit() {
        print(text)
        fflush(nil)
    }

    private static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Measured throughput of one run.
struct Throughput {
    var operations: Int
    var elapsed: Duration
    /// Process CPU time (user + system) spent during the run, when measured.
    var cpuSeconds: Double?

    var seconds: Double { elapsed.seconds }
    var perSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }
    /// Wall-clock nanoseconds per operation across all tasks (the inverse of the aggregate rate).
    var nanosecondsPerOperation: Double { operations > 0 ? seconds * 1e9 / Double(operations) : 0 }

    /// Adds `ops`, `seconds`, `ops_per_sec` and `ns_per_op` to `line`.
    func write(to line: inout JSONLine) {
        line.set("ops", operations)
        line.set("seconds", seconds, digits: 4)
        line.set("ops_per_sec", perSecond, digits: 1)
        line.set("ns_per_op", nanosecondsPerOperation, digits: 2)
        if let cpuSeconds, operations > 0 {
            line.set("cpu_seconds", cpuSeconds, digits: 4)
            line.set("cpu_ns_per_op", cpuSeconds * 1e9 / Double(operations), digits: 2)
        }
    }
}

/// Latency percentiles from a list of samples in nanoseconds.
struct Percentiles {
    let p50: Double
    let p99: Double
    let max: Double

    init(nanoseconds samples: [Int64]) {
        let sorted = samples.sorted()
        func at(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = Swift.min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded(.up)))
            return Double(sorted[index])
        }
        p50 = at(0.5)
        p99 = at(0.99)
        max = at(1)
    }

    /// Adds `p50_us`, `p99_us` and `max_us` to `line`.
    func write(to line: inout JSONLine) {
        line.set("p50_us", p50 / 1000, digits: 1)
        line.set("p99_us", p99 / 1000, digits: 1)
        line.set("max_us", max / 1000, digits: 1)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// The process's CPU time (user + system), which stays meaningful when other processes share the cores.
enum CPUTime {
    static func now() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

extension Throughput {
    /// Runs `operation` `iterations` times after a warm-up of at most 1,000 runs, timing wall clock and process CPU.
    /// - Returns: The throughput, and the sum of what the operation returned (print it, so no run is optimized away).
    static func loop(iterations: Int, _ operation: () throws -> Int) rethrows -> (result: Throughput, sink: Int) {
        var sink = 0
        for _ in 0..<min(iterations, 1000) { sink &+= try operation() }
        let cpu = CPUTime.now()
        let start = ContinuousClock.now
        for _ in 0..<iterations { sink &+= try operation() }
        let result = Throughput(
            operations: iterations, elapsed: ContinuousClock.now - start, cpuSeconds: CPUTime.now() - cpu)
        return (result, sink)
    }
}

extension JSONLine {
    /// Adds a ``Throughput/loop(iterations:_:)`` result (rates, CPU per operation, the ratio to `reference` when
    /// given, the sink) and prints the line.
    mutating func emit(loop result: Throughput, sink: Int, ratioTo reference: Double?) {
        result.write(to: &self)
        if let cpuSeconds = result.cpuSeconds, result.operations > 0 {
            set("cpu_us_per_op", cpuSeconds * 1e6 / Double(result.operations), digits: 3)
        }
        if let reference, reference > 0 { set("ratio", result.perSecond / reference, digits: 3) }
        set("sink", sink)
        emit()
    }
}
