import CCurl
import CCurlShims
import Foundation
import Logging
import OAuthBroker
import Synchronization

/// Runs every transfer of one ``CurlTransport`` on one dedicated thread, through libcurl's multi interface.
///
/// Tasks hand requests over through ``submit(_:)`` (a queue under a `Mutex`, then `curl_multi_wakeup`); the driver
/// thread adds them to the multi handle, drives them with `curl_multi_perform`, collects results with
/// `curl_multi_info_read`, resumes the tasks' continuations, and sleeps in `curl_multi_poll` until a socket is ready,
/// a libcurl timer fires or it is woken. No cooperative-pool thread ever blocks on libcurl.
///
/// Finished easy handles go back to a bounded pool (`curl_easy_reset`); connections live in the multi handle's
/// cache, so sequential requests to one host reuse one keep-alive connection.
final class CurlMultiDriver {
    private enum Command {
        case start(PendingTransfer)
        case cancel(PendingTransfer)
    }

    private struct Shared {
        var commands: [Command] = []
        var isShuttingDown = false
        /// Set by the driver thread, under the lock, just before it frees the multi handle; nobody may call
        /// `curl_multi_wakeup` afterwards.
        var hasExited = false
    }

    private let shared = Mutex(Shared())
    /// New connections opened so far (the sum of `CURLINFO_NUM_CONNECTS` over finished transfers).
    let connectionsOpened = Atomic<Int>(0)
    private let multi: UnsafeMutableRawPointer
    private let configuration: CurlTransport.Configuration
    private let logger: Logger

    // Driver-thread state: touched only by `run()` and what it calls.
    private var active: [UnsafeMutableRawPointer: CurlEasyHandle] = [:]
    private var activeByTransfer: [ObjectIdentifier: CurlEasyHandle] = [:]
    private var idle: [CurlEasyHandle] = []

    /// Creates the multi handle with the configuration's connection limits. Call ``start()`` next.
    /// - Throws: ``CurlError`` when libcurl cannot initialise or rejects a limit.
    init(configuration: CurlTransport.Configuration, logger: Logger) throws(CurlError) {
        try CurlGlobal.ensureInitialized()
        guard let multi = curl_multi_init() else {
            throw CurlError(.curl, curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_multi_init failed")
        }
        for (option, value) in [
            (CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maximumConnectionsPerHost),
            (CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maximumConnections),
            (CURLMOPT_MAXCONNECTS, configuration.maximumConnections),
        ] {
            let code = CCurlShims_multi_setopt_long(multi, option, value)
            guard code == CURLM_OK else {
                curl_multi_cleanup(multi)
                throw CurlError(
                    .curl, message: "curl_multi_setopt failed: \(String(cString: curl_multi_strerror(code)))")
            }
        }
        self.multi = multi
        self.configuration = configuration
        self.logger = logger
    }

    /// Starts the driver thread. The thread holds the driver until ``shutdown()`` makes it exit.
    func start() {
        let thread = Thread { self.run() }
        thread.name = "oauth-curl"  // Linux thread names hold 15 bytes
        thread.start()
    }

    /// Queues `transfer` and wakes the driver. Returns `false` once the driver is shutting down.
    func submit(_ transfer: PendingTransfer) -> Bool {
        shared.withLock { state in
            guard !state.isShuttingDown else { return false }
            state.commands.append(.start(transfer))
            curl_multi_wakeup(multi)
            return true
        }
    }

    /// Asks the driver to drop `transfer` (whose continuation was already resumed with `CancellationError`).
    func cancel(_ transfer: PendingTransfer) {
        shared.withLock { state in
            guard !state.hasExited else { return }
            state.commands.append(.cancel(transfer))
            curl_multi_wakeup(multi)
        }
    }

    /// Makes the driver fail every queued and running transfer with ``CurlError/Kind/shutDown``, free its handles
    /// and exit. Returns at once; idempotent.
    func shutdown() {
        shared.withLock { state in
            guard !state.isShuttingDown else { return }
            state.isShuttingDown = true
            if !state.hasExited { curl_multi_wakeup(multi) }
        }
    }

    // MARK: - The driver thread

    private func run() {
        logger.debug("curl driver started", metadata: ["curl.version": "\(CurlGlobal.versionDescription)"])
        while true {
            let (commands, stopping) = shared.withLock { state in
                let commands = state.commands
                state.commands.removeAll(keepingCapacity: true)
                return (commands, state.isShuttingDown)
            }
            if stopping {
                tearDown(failing: commands)
                return
            }
            for command in commands {
                switch command {
                case .start(let transfer): begin(transfer)
                case .cancel(let transfer): abandon(transfer)
                }
            }
            var running: Int32 = 0
            let performCode = curl_multi_perform(multi, &running)
            if performCode != CURLM_OK {
                logger.error(
                    "curl_multi_perform failed",
                    metadata: ["error": "\(String(cString: curl_multi_strerror(performCode)))"])
            }
            collectFinished()
            // With transfers running, libcurl shortens the wait to its own next timeout.
            let waitMilliseconds: Int32 = active.isEmpty ? 60_000 : 1_000
            let pollCode = curl_multi_poll(multi, nil, 0, waitMilliseconds, nil)
            if pollCode != CURLM_OK {
                logger.error(
                    "curl_multi_poll failed", metadata: ["error": "\(String(cString: curl_multi_strerror(pollCode)))"])
                usleep(10_000)  // never spin
            }
        }
    }

    /// Configures a pooled (or new) easy handle for `transfer` and adds it to the multi handle.
    private func begin(_ transfer: PendingTransfer) {
        guard !transfer.isFinished else { return }  // cancelled while queued
        guard let handle = idle.popLast() ?? CurlEasyHandle() else {
            transfer.finish(
                .failure(
                    CurlError(.curl, curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_easy_init failed")))
            return
        }
        do {
            try handle.configure(for: transfer, configuration: configuration)
        } catch {
            transfer.finish(.failure(error))
            release(handle)
            return
        }
        let code = curl_multi_add_handle(multi, handle.raw)
        guard code == CURLM_OK else {
            transfer.finish(
                .failure(
                    CurlError(
                        .curl, message: "curl_multi_add_handle failed: \(String(cString: curl_multi_strerror(code)))")))
            release(handle)
            return
        }
        active[handle.raw] = handle
        activeByTransfer[ObjectIdentifier(transfer)] = handle
    }

    /// Removes a cancelled transfer's handle from the multi handle (closing its connection) and pools the handle.
    private func abandon(_ transfer: PendingTransfer) {
        guard let handle = activeByTransfer.removeValue(forKey: ObjectIdentifier(transfer)) else { return }
        active[handle.raw] = nil
        curl_multi_remove_handle(multi, handle.raw)
        logger.trace("curl transfer cancelled", metadata: ["http.host": "\(handle.host)"])
        release(handle)
    }

    /// Resumes the tasks whose transfers finished.
    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            // The message does not survive curl_multi_remove_handle: read it first.
            guard message.pointee.msg == CURLMSG_DONE, let raw = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            curl_multi_remove_handle(multi, raw)
            guard let handle = active.removeValue(forKey: raw) else { continue }
            guard let transfer = handle.transfer else {
                release(handle)
                continue
            }
            activeByTransfer[ObjectIdentifier(transfer)] = nil
            if result == CURLE_OK {
                let response = handle.response()
                logger.trace(
                    "curl transfer finished",
                    metadata: ["http.host": "\(handle.host)", "http.status": "\(response.status)"])
                transfer.finish(.success(response))
            } else {
                let error = self.error(for: result, handle: handle)
                logger.debug("curl transfer failed", metadata: ["http.host": "\(handle.host)", "error": "\(error)"])
                transfer.finish(.failure(error))
            }
            release(handle)
        }
    }

    private func error(for code: CURLcode, handle: CurlEasyHandle) -> CurlError {
        if handle.exceededBodyLimit || code == CURLE_FILESIZE_EXCEEDED {
            return CurlError(
                .responseTooLarge,
                message: "the response from \(handle.host) exceeded \(configuration.maximumResponseBodyBytes) bytes")
        }
        return CurlError(
            .curl, curlCode: Int(code.rawValue), message: "\(CurlGlobal.describe(code)) (host \(handle.host))")
    }

    /// Counts the handle's new connections, then resets it into the idle pool or frees it when the pool is full.
    private func release(_ handle: CurlEasyHandle) {
        connectionsOpened.add(handle.connectionsOpened(), ordering: .relaxed)
        handle.recycle()
        if idle.count < configuration.maximumIdleHandles { idle.append(handle) }
    }

    /// Fails everything still pending, frees every handle and the multi handle.
    private func tearDown(failing commands: [Command]) {
        let late = shared.withLock { state in
            state.hasExited = true
            let late = state.commands
            state.commands.removeAll()
            return late
        }
        let error = CurlError(.shutDown, message: "the curl transport was shut down")
        for case .start(let transfer) in commands + late { transfer.finish(.failure(error)) }
        for handle in active.values {
            curl_multi_remove_handle(multi, handle.raw)
            handle.transfer?.finish(.failure(error))
        }
        active.removeAll()
        activeByTransfer.removeAll()
        idle.removeAll()
        curl_multi_cleanup(multi)
        logger.debug("curl driver stopped")
    }
}

// @unchecked Sendable: `shared` is a Mutex and `connectionsOpened` an Atomic; `multi` is immutable and, outside the
// driver thread, used only for `curl_multi_wakeup` (thread-safe by libcurl's contract) under the lock while
// `hasExited` is false. `active`, `activeByTransfer` and `idle` (and the easy handles in them) are touched only on
// the driver thread, inside `run()`.
extension CurlMultiDriver: @unchecked Sendable {}
