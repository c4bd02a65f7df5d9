public import Foundation
public import OAuthBroker

extension RedisStore {
    // MARK: - Sessions

    /// Stores a session under its id with a Redis time-to-live (`SET … PX`) ending at its expiry, and indexes it
    /// for ``purgeExpiredSessions(before:)``. A session that has already expired is not stored (and replaces,
    /// that is deletes, any session with its id).
    /// - Parameter session: The session.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``,
    ///   ``OAuthBroker/BrokerError/Code/storeFailed``).
    public func saveSession(_ session: AuthorizationSession) async throws {
        let now = self.now()
        let name = layout.session(session.id)
        let index = layout.sessionIndex
        let id = Array(session.id.utf8)
        let remaining = (session.expiresAt.timeIntervalSince(now) * 1000).rounded(.up)
        var commands: [[[UInt8]]]
        if remaining >= 1 {
            let milliseconds = remaining < 1e15 ? Int64(remaining) : Int64(1e15)
            commands = [
                [
                    Array("SET".utf8), name, try codec.encode(session), Array("PX".utf8),
                    Array(String(milliseconds).utf8),
                ],
                [Array("ZADD".utf8), index, Self.score(session.expiresAt), id],
            ]
        } else {
            commands = [[Array("DEL".utf8), name], [Array("ZREM".utf8), index, id]]
        }
        // Index entries of sessions that expired by now point at keys Redis has dropped (or soon will): trim them.
        commands.append([Array("ZREMRANGEBYSCORE".utf8), index, Array("-inf".utf8), Array("(".utf8) + Self.score(now)])
        let batch = commands
        let replies = try await pool.run { try $0.pipeline(batch) }
        for reply in replies { try check(reply, during: "saving a session", key: session.key) }
    }

    /// Removes and returns the session with `id` (single use), or `nil` if there is none or it has expired on the
    /// store's clock (`now`).
    ///
    /// The blob is read (`GET`) and decoded first, then deleted only if it is still the blob read (the
    /// `take-session` script), so exactly one of several racing callers gets the session, and a session the codec
    /// cannot decode (a missing sealing key) is left in place.
    /// - Parameter id: The session id.
    /// - Returns: The session, or `nil`.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``,
    ///   ``OAuthBroker/BrokerError/Code/storeCorrupted``, ``OAuthBroker/BrokerError/Code/sealingKeyMissing``).
    public func takeSession(id: String) async throws -> AuthorizationSession? {
        let name = layout.session(id)
        let reply = try await pool.run { try $0.command([Array("GET".utf8), name]) }
        if reply.isNull { return nil }
        guard let bytes = reply.bytes else { throw unexpected(reply, during: "GET") }
        let session = try codec.decodeSession(bytes, id: id)
        let index = layout.sessionIndex
        let taken = try await pool.run { connection -> RedisReply in
            let taken = try RedisScripts.takeSession.run(on: connection, keys: [name], arguments: [bytes], key: nil)
            try self.check(try connection.command([Array("ZREM".utf8), index, Array(id.utf8)]), during: "ZREM")
            return taken
        }
        guard let deleted = taken.integer else { throw unexpected(taken, during: "the take-session script") }
        guard deleted == 1 else { return nil }
        return session.isExpired(at: now()) ? nil : session
    }

    /// Re-encodes every unexpired session listed in the `sessions` index through the codec: all are read and
    /// decoded first (nothing is written when one fails), then each is replaced only if it still holds the bytes
    /// read, keeping its time-to-live (the `reseal-session` script), so a session taken meanwhile stays taken.
    /// - Returns: How many sessions were re-encoded.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``, or the codec's
    ///   errors).
    public func resealSessions() async throws -> Int {
        let index = layout.sessionIndex
        let minimum = Array("(".utf8) + Self.score(now())
        let idsReply = try await pool.run { connection in
            try connection.command([Array("ZRANGEBYSCORE".utf8), index, minimum, Array("+inf".utf8)])
        }
        guard let members = idsReply.array else { throw unexpected(idsReply, during: "ZRANGEBYSCORE") }
        let ids = members.compactMap(\.bytes).map { String(decoding: $0, as: UTF8.self) }
        var read: [(name: [UInt8], old: [UInt8], new: [UInt8])] = []
        for id in ids {
            let name = layout.session(id)
            let reply = try await pool.run { try $0.command([Array("GET".utf8), name]) }
            if reply.isNull { continue }
            guard let bytes = reply.bytes else { throw unexpected(reply, during: "GET") }
            read.append((name, bytes, try codec.encode(codec.decodeSession(bytes, id: id))))
        }
        var resealed = 0
        for session in read {
            let reply = try await pool.run { connection in
                try RedisScripts.resealSession.run(
                    on: connection, keys: [session.name], arguments: [session.old, session.new], key: nil)
            }
            guard let replaced = reply.integer else { throw unexpected(reply, during: "the reseal-session script") }
            resealed += Int(replaced)
        }
        return resealed
    }

    /// Deletes the sessions whose expiry is at or before `instant`, found through the `sessions` index in pages
    /// of 256. Sessions also vanish by themselves when their Redis time-to-live ends.
    /// - Parameter instant: The cut-off.
    /// - Returns: How many session keys this call deleted.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``).
    @discardableResult
    public func purgeExpiredSessions(before instant: Date) async throws -> Int {
        let index = layout.sessionIndex
        let maximum = Self.score(instant)
        let pageSize = 256
        var deleted = 0
        // Each page removes what it read from the index, so the loop ends; the bound guards against a server
        // that keeps answering with entries.
        for _ in 0..<1_000_000 {
            let page = try await pool.run { connection -> (ids: Int, deleted: Int) in
                let range = try connection.command([
                    Array("ZRANGEBYSCORE".utf8), index, Array("-inf".utf8), maximum, Array("LIMIT".utf8),
                    Array("0".utf8), Array(String(pageSize).utf8),
                ])
                guard let members = range.array else { throw self.unexpected(range, during: "ZRANGEBYSCORE") }
                let ids = members.compactMap(\.bytes)
                guard !ids.isEmpty else { return (0, 0) }
                let prefix = Array("\(self.layout.prefix)session:".utf8)
                var commands = ids.map { [Array("DEL".utf8), prefix + $0] }
                commands.append([Array("ZREM".utf8), index] + ids)
                let replies = try connection.pipeline(commands)
                for reply in replies { try self.check(reply, during: "purging sessions") }
                return (ids.count, replies.dropLast().reduce(0) { $0 + Int($1.integer ?? 0) })
            }
            deleted += page.deleted
            if page.ids < pageSize { return deleted }
        }
        return deleted
    }

    /// A sorted-set score for `date`: Unix milliseconds, with the fraction, in the shortest exact decimal form.
    private static func score(_ date: Date) -> [UInt8] {
        Array("\(date.timeIntervalSince1970 * 1000)".utf8)
    }

    // MARK: - Refresh leases

    /// Takes the refresh lease for `key` (`SET NX PX` inside the `acquire-lease` script), or renews its
    /// time-to-live when `owner` already holds it.
    /// - Parameters:
    ///   - key: The record's key.
    ///   - owner: Who takes the lease.
    ///   - ttl: How long the lease lasts unless released or renewed (at least 1 ms).
    /// - Returns: `true` if `owner` holds the lease now, `false` if another owner holds an unexpired one.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``).
    public func acquireRefreshLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool {
        let milliseconds = max(1, min(Int64(1e12), Int64((ttl.timeInterval * 1000).rounded(.up))))
        let name = layout.lease(key)
        let arguments = [Array(owner.rawValue.utf8), Array(String(milliseconds).utf8)]
        let reply = try await pool.run { connection in
            try RedisScripts.acquireLease.run(on: connection, keys: [name], arguments: arguments, key: key)
        }
        guard let taken = reply.integer else { throw unexpected(reply, during: "the acquire-lease script", key: key) }
        return taken == 1
    }

    /// Releases the lease if `owner` holds it (the `release-lease` script compares the owner first).
    /// - Parameters:
    ///   - key: The record's key.
    ///   - owner: Who releases it.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``).
    public func releaseRefreshLease(for key: StoreKey, owner: LeaseOwner) async throws {
        let name = layout.lease(key)
        let arguments = [Array(owner.rawValue.utf8)]
        let reply = try await pool.run { connection in
            try RedisScripts.releaseLease.run(on: connection, keys: [name], arguments: arguments, key: key)
        }
        guard reply.integer != nil else { throw unexpected(reply, during: "the release-lease script", key: key) }
    }
}
