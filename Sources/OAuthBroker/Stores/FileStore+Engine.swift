import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
    private let systemRead = Glibc.read
    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    import Darwin
    private let systemRead = Darwin.read
    private let systemWrite = Darwin.write
#endif

/// The file I/O behind ``FileStore``: an actor whose executor is a private serial `DispatchQueue`, so `flock`,
/// `read`, `fsync` and `rename` never block Swift's cooperative pool.
///
/// Every operation takes the advisory lock on `<file>.lock` (shared for reads, exclusive for writes), reads the
/// file again, and (for writes) replaces it crash-safely before unlocking. The parsed document is reused only
/// when the bytes just read equal the bytes it was parsed from, so a stale copy is never trusted.
actor FileStoreEngine {
    private nonisolated let executor: DispatchQueueExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let path: String
    private let directory: String
    private let fileName: String
    private let lockTimeout: Duration
    private var lockDescriptor: Int32 = -1
    private var cache: (bytes: [UInt8], document: FileDocument)?
    private var cleanedTemporaryFiles = false

    init(path: String, lockTimeout: Duration) {
        self.path = path
        let url = URL(fileURLWithPath: path)
        directory = url.deletingLastPathComponent().path
        fileName = url.lastPathComponent
        self.lockTimeout = lockTimeout
        executor = DispatchQueueExecutor(label: "oauth-broker.file-store")
    }

    deinit {
        if lockDescriptor >= 0 { close(lockDescriptor) }
    }

    /// Runs `body` on the current document under a shared lock.
    func read<T: Sendable>(_ body: @Sendable (FileDocument) throws -> T) throws -> T {
        try withLock(LOCK_SH) {
            switch loadDocument() {
            case .success(let document): return try body(document)
            case .failure(let failure): return try handleCorruption(failure, sharedLockHeld: true, body)
            }
        }
    }

    /// Runs `body` on the current document under an exclusive lock; if it reports a change, writes the new
    /// document crash-safely before the lock is released.
    func update<T: Sendable>(_ body: @Sendable (inout FileDocument) throws -> (result: T, changed: Bool)) throws -> T {
        try withLock(LOCK_EX) {
            try removeOrphanedTemporaryFiles()
            var document: FileDocument
            switch loadDocument() {
            case .success(let loaded): document = loaded
            case .failure(let failure): throw try quarantine(failure)
            }
            let (result, changed) = try body(&document)
            if changed { try write(document) }
            return result
        }
    }

    // MARK: Locking

    private func withLock<T>(_ operation: Int32, _ body: () throws -> T) throws -> T {
        let descriptor = try openLockFile()
        try acquire(descriptor, operation)
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    private func openLockFile() throws -> Int32 {
        if lockDescriptor >= 0 { return lockDescriptor }
        let descriptor = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ioError("cannot open the lock file", errno: errno) }
        lockDescriptor = descriptor
        return descriptor
    }

    private func acquire(_ descriptor: Int32, _ operation: Int32) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + lockTimeout
        var delayMicroseconds: UInt32 = 200
        while true {
            if flock(descriptor, operation | LOCK_NB) == 0 { return }
            let error = errno
            if error == EINTR { continue }
            guard error == EWOULDBLOCK || error == EAGAIN else { throw ioError("flock failed", errno: error) }
            guard clock.now < deadline else {
                throw BrokerError(.storeUnavailable, "timed out after \(lockTimeout) waiting for the lock on \(path)")
            }
            usleep(delayMicroseconds)
            delayMicroseconds = min(delayMicroseconds * 2, 5_000)
        }
    }

    // MARK: Reading

    private enum LoadFailure: Error {
        case decode(FileDocument.DecodeFailure)
        case io(BrokerError)
    }

    private func loadDocument() -> Result<FileDocument, LoadFailure> {
        let bytes: [UInt8]
        do {
            guard let read = try readFile() else {
                cache = nil
                return .success(FileDocument())
            }
            bytes = read
        } catch {
            return .failure(.io(error))
        }
        if let cache, cache.bytes == bytes { return .success(cache.document) }
        do {
            let document = try FileDocument.decode(bytes)
            cache = (bytes, document)
            return .success(document)
        } catch {
            return .failure(.decode(error))
        }
    }

    /// The file's bytes, or `nil` if it does not exist.
    private func readFile() throws(BrokerError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            let error = errno
            if error == ENOENT { return nil }
            throw ioError("cannot open the store file", errno: error)
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw ioError("cannot stat the store file", errno: errno) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(info.st_size) + 1)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot read the store file", errno: errno)
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    private func handleCorruption<T>(
        _ failure: LoadFailure, sharedLockHeld: Bool, _ body: (FileDocument) throws -> T
    ) throws -> T {
        if case .io(let error) = failure { throw error }
        if case .decode(.newerFormat) = failure { throw try quarantine(failure) }
        // Upgrade to the exclusive lock to move the file aside; another process may have fixed or moved it.
        flock(lockDescriptor, LOCK_UN)
        try acquire(lockDescriptor, LOCK_EX)
        switch loadDocument() {
        case .success(let document): return try body(document)
        case .failure(let again): throw try quarantine(again)
        }
    }

    /// Turns a load failure into the error to throw; a corrupt file is first renamed aside (never deleted).
    /// Call with the exclusive lock held.
    private func quarantine(_ failure: LoadFailure) throws -> BrokerError {
        switch failure {
        case .io(let error):
            return error
        case .decode(.newerFormat(let version)):
            return BrokerError(
                .storeFailed, "\(path) has file store format version \(version), newer than this release reads (1)")
        case .decode(.corrupt):
            let stamp = FileDocument.LeaseEntry.millis(Date())
            var target = "\(path).corrupt-\(stamp)"
            var suffix = 1
            while access(target, F_OK) == 0 && suffix < 100 {
                target = "\(path).corrupt-\(stamp)-\(suffix)"
                suffix += 1
            }
            guard rename(path, target) == 0 else {
                return ioError("\(path) is corrupt and could not be moved aside", errno: errno, code: .storeCorrupted)
            }
            syncDirectory()
            cache = nil
            return BrokerError(
                .storeCorrupted, "\(path) was not a valid file store; it was moved aside to \(target) and kept")
        }
    }

    // MARK: Writing

    private var temporaryPrefix: String { "." + fileName + ".tmp-" }

    /// Writes to a uniquely named temporary file in the same directory, fsyncs it, renames it over the store
    /// file and fsyncs the directory. The cache is updated only after the rename succeeded.
    private func write(_ document: FileDocument) throws {
        let bytes = try document.encoded()
        let temporary = directory + "/" + temporaryPrefix + "\(getpid())-\(UInt64.random(in: .min ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ioError("cannot create a temporary file", errno: errno) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(descriptor) }
            guard fchmod(descriptor, 0o600) == 0 else { throw ioError("cannot chmod the temporary file", errno: errno) }
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes {
                    systemWrite(descriptor, $0.baseAddress! + offset, bytes.count - offset)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ioError("cannot write the temporary file", errno: errno)
                }
                offset += written
            }
            guard fsync(descriptor) == 0 else { throw ioError("cannot fsync the temporary file", errno: errno) }
        }
        guard rename(temporary, path) == 0 else { throw ioError("cannot rename over the store file", errno: errno) }
        renamed = true
        cache = (bytes, document)
        // The new content is visible to every process now; a failed directory fsync only weakens durability
        // across a power loss, so it does not fail the operation (which already took effect).
        syncDirectory()
    }

    private func syncDirectory() {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Deletes temporary files left by writers killed mid-write. Safe under the exclusive lock: a live writer
    /// holds that lock for as long as its temporary file exists.
    private func removeOrphanedTemporaryFiles() throws {
        guard !cleanedTemporaryFiles else { return }
        cleanedTemporaryFiles = true
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(temporaryPrefix) {
            unlink(directory + "/" + name)
        }
    }

    private func ioError(_ message: String, errno error: Int32, code: BrokerError.Code = .storeFailed) -> BrokerError {
        BrokerError(code, "\(message) (\(path)): \(String(cString: strerror(error)))")
    }
}
