extension FaultInjectingStore {
    /// A set of ``OAuthBroker/BrokerStore`` operations: the calls a fault covers, or the one call a
    /// ``FaultInjectingStore/makeCallStream()`` event names.
    ///
    /// ```swift
    /// store.failNext(of: .writes)                    // insert, compareAndSwap or setStatus, whichever comes first
    /// store.failNext(of: .compareAndSwap, skipping: 1) // the second compare-and-swap
    /// #expect(store.callCount(of: .writes) == 2)
    /// ```
    public struct Operations: OptionSet, Hashable, Sendable, CustomStringConvertible {
        /// One bit per operation.
        public let rawValue: UInt16

        /// Wraps bits.
        ///
        /// - Parameter rawValue: The bits, one per operation.
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// ``OAuthBroker/BrokerStore/record(for:)``.
        public static let record = Operations(rawValue: 1 << 0)
        /// ``OAuthBroker/BrokerStore/insert(_:for:)``.
        public static let insert = Operations(rawValue: 1 << 1)
        /// ``OAuthBroker/BrokerStore/compareAndSwap(_:expecting:with:)``.
        public static let compareAndSwap = Operations(rawValue: 1 << 2)
        /// ``OAuthBroker/BrokerStore/setStatus(_:for:)``.
        public static let setStatus = Operations(rawValue: 1 << 3)
        /// ``OAuthBroker/BrokerStore/deleteRecord(for:)``.
        public static let deleteRecord = Operations(rawValue: 1 << 4)
        /// ``OAuthBroker/BrokerStore/keys(tenant:)``.
        public static let keys = Operations(rawValue: 1 << 5)
        /// ``OAuthBroker/BrokerStore/saveSession(_:)``.
        public static let saveSession = Operations(rawValue: 1 << 6)
        /// ``OAuthBroker/BrokerStore/takeSession(id:)``.
        public static let takeSession = Operations(rawValue: 1 << 7)
        /// ``OAuthBroker/BrokerStore/purgeExpiredSessions(before:)``.
        public static let purgeExpiredSessions = Operations(rawValue: 1 << 8)
        /// ``OAuthBroker/BrokerStore/acquireRefreshLease(for:owner:ttl:)``: taking and renewing a lease.
        public static let acquireRefreshLease = Operations(rawValue: 1 << 9)
        /// ``OAuthBroker/BrokerStore/releaseRefreshLease(for:owner:)``.
        public static let releaseRefreshLease = Operations(rawValue: 1 << 10)

        /// The record writes: ``insert``, ``compareAndSwap`` and ``setStatus``.
        public static let writes: Operations = [.insert, .compareAndSwap, .setStatus]
        /// The record reads: ``record``.
        public static let reads: Operations = [.record]
        /// Every operation.
        public static let all: Operations = [
            .record, .insert, .compareAndSwap, .setStatus, .deleteRecord, .keys, .saveSession, .takeSession,
            .purgeExpiredSessions, .acquireRefreshLease, .releaseRefreshLease,
        ]

        private static let names: [(Operations, String)] = [
            (.record, "record"), (.insert, "insert"), (.compareAndSwap, "compareAndSwap"), (.setStatus, "setStatus"),
            (.deleteRecord, "deleteRecord"), (.keys, "keys"), (.saveSession, "saveSession"),
            (.takeSession, "takeSession"), (.purgeExpiredSessions, "purgeExpiredSessions"),
            (.acquireRefreshLease, "acquireRefreshLease"), (.releaseRefreshLease, "releaseRefreshLease"),
        ]

        /// Each single operation in the set, in declaration order.
        public var elements: [Operations] { Self.names.map(\.0).filter { contains($0) } }

        /// The operation names, for example `compareAndSwap` or `[insert, compareAndSwap]`.
        public var description: String {
            let names = Self.names.filter { contains($0.0) }.map(\.1)
            return names.count == 1 ? names[0] : "[" + names.joined(separator: ", ") + "]"
        }
    }

    /// When an injected failure is thrown: before the call reaches the wrapped store, or after it was applied there.
    public struct FailureTiming: Hashable, Sendable, CustomStringConvertible {
        enum Value: Hashable, Sendable {
            case beforeApplying
            case afterApplying
        }

        let value: Value

        /// A clean failure: the wrapped store is not called, so nothing changes.
        public static let beforeApplying = FailureTiming(value: .beforeApplying)

        /// An ambiguous failure: the wrapped store applies the call, then the caller gets the error, like a Redis
        /// command that timed out after the server executed it. The result of the call is lost.
        public static let afterApplying = FailureTiming(value: .afterApplying)

        /// `beforeApplying` or `afterApplying`.
        public var description: String {
            switch value {
            case .beforeApplying: "beforeApplying"
            case .afterApplying: "afterApplying"
            }
        }
    }
}
