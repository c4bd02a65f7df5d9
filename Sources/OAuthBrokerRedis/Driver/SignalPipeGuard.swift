#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps hiredis's `write()` to a socket the server closed from killing the process with `SIGPIPE`.
///
/// hiredis 0.14 writes with plain `write()`, which raises `SIGPIPE` when the peer has gone. A library must not
/// change the process-wide disposition of a signal, so on Linux ``run(_:)`` blocks `SIGPIPE` for the calling
/// thread only, runs the hiredis call (the write then fails with `EPIPE` and hiredis reports an I/O error), takes
/// any `SIGPIPE` that call left pending on the thread, and restores the thread's mask. Three extra system calls per
/// command: noise next to a network round trip. On Darwin the socket gets `SO_NOSIGPIPE` instead (see
/// ``disableOnSocket(_:)``), which Linux lacks.
package enum SignalPipeGuard {
    package static func run<T>(_ body: () throws -> T) rethrows -> T {
        #if os(Linux)
            var pipeOnly = sigset_t()
            sigemptyset(&pipeOnly)
            sigaddset(&pipeOnly, SIGPIPE)
            var previous = sigset_t()
            pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous)
            defer {
                if sigismember(&previous, SIGPIPE) == 0 {
                    var pending = sigset_t()
                    sigpending(&pending)
                    if sigismember(&pending, SIGPIPE) == 1 {
                        var noWait = timespec(tv_sec: 0, tv_nsec: 0)
                        _ = sigtimedwait(&pipeOnly, nil, &noWait)
                    }
                }
                pthread_sigmask(SIG_SETMASK, &previous, nil)
            }
        #endif
        return try body()
    }

    /// Sets `SO_NOSIGPIPE` on Darwin; does nothing elsewhere.
    package static func disableOnSocket(_ fd: Int32) {
        #if canImport(Darwin)
            var on: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }
}
