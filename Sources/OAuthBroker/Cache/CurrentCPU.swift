import Foundation

/// Which per-CPU slot the calling thread should use: `sched_getcpu()` (about 3 ns) modulo the slot count, or
/// slot 0 where the call does not exist. A thread that migrates between the call and the lock only shares a slot
/// for a moment; correctness never depends on the slot.
struct CurrentCPU: Sendable {
    private typealias GetCPU = @convention(c) () -> Int32
    private let getCPU: GetCPU?
    /// A power of two, at most 16.
    let slotCount: Int

    init() {
        #if os(Linux) || os(Android)
            if let symbol = dlsym(nil, "sched_getcpu") {
                getCPU = unsafeBitCast(symbol, to: GetCPU.self)
            } else {
                getCPU = nil
            }
        #else
            getCPU = nil
        #endif
        let processors = getCPU == nil ? 1 : min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 16)
        var count = 1
        while count < processors { count <<= 1 }
        slotCount = count
    }

    @inline(__always)
    func slot() -> Int {
        guard let getCPU else { return 0 }
        return Int(truncatingIfNeeded: getCPU()) & (slotCount - 1)
    }
}
