import Foundation
import OAuthBrokerFuzzing

#if canImport(Glibc)
    import Glibc
#endif

#if FUZZING
    /// libFuzzer's driver (`libclang_rt.fuzzer_no_main`), linked by `scripts/fuzz.sh`.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// The target libFuzzer's callback runs; set once, before the driver starts.
    nonisolated(unsafe) var selectedTarget = FuzzTarget.tokenResponse
#endif

/// `oauth-broker-fuzz TARGET [ARGUMENTS…]`.
///
/// Built by `scripts/fuzz.sh` (with `-DFUZZING`, AddressSanitizer and libFuzzer's coverage instrumentation), the
/// arguments after TARGET go to libFuzzer (a corpus directory, `-max_total_time=60`, …). Built normally, it replays
/// the files named after TARGET through the target, so a crash input can be rerun under a debugger.
@main
struct FuzzMain {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: " | ")
            FileHandle.standardError.write(Data("usage: oauth-broker-fuzz \(names) [ARGUMENTS…]\n".utf8))
            exit(2)
        }
        #if FUZZING
            selectedTarget = target
            // libFuzzer sees the program name followed by the arguments after TARGET.
            var argv: [UnsafeMutablePointer<CChar>?] = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) }
            argv.append(nil)
            var argc = CInt(argv.count - 1)
            let status = argv.withUnsafeMutableBufferPointer { buffer -> CInt in
                var base = buffer.baseAddress!
                return runFuzzerDriver(&argc, &base) { data, size in
                    selectedTarget.run(UnsafeRawBufferPointer(start: data, count: size))
                    return 0
                }
            }
            exit(status)
        #else
            for path in arguments.dropFirst(2) {
                guard let data = FileManager.default.contents(atPath: path) else {
                    FileHandle.standardError.write(Data("oauth-broker-fuzz: cannot read \(path)\n".utf8))
                    exit(1)
                }
                target.run(Array(data))
            }
            print("oauth-broker-fuzz: \(target.rawValue): \(arguments.count - 2) input(s) ran without a crash")
        #endif
    }
}
