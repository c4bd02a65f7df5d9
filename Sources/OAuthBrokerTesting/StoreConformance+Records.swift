import Foundation
import OAuthBroker

// The record checks of StoreConformance: round trips, insert, compare-and-swap, status, delete, keys, concurrency.
extension StoreConformance {
    func recordRoundTrip(_ store: any BrokerStore) async throws {
        try expect(!store.kind.isEmpty, "kind is empty")
        let key = try ConformanceFixtures.key()
        try expect(try await store.record(for: key) == nil, "a key never written has a record")
        var record = ConformanceFixtures.record()
        record.idToken = Secret("id-token")
        record.scopes = ["read", "write"]
        record.extraFields = [
            "n": .number(42.5), "flag": .bool(true), "none": .null, "list": .array([.string("a"), .number(1)]),
            "obj": .object(["k": .string("v")]),
        ]
        let inserted = try await store.insert(record, for: key)
        try expect(inserted == .inserted(record), "insert did not return .inserted(record) unchanged")
        let read = try require(try await store.record(for: key), "the inserted record is not found")
        try expect(read == record, "the record read back differs from the one inserted: \(read) vs \(record)")
        try expect(read.version == record.version, "the version changed on insert")

        var noExpiry = ConformanceFixtures.record(version: 7)
        noExpiry.expiresAt = nil
        noExpiry.refreshToken = nil
        noExpiry.scopes = .empty
        noExpiry.extraFields = [:]
        noExpiry.status = TokenRecord.Status(rawValue: "custom_status")
        let other = try ConformanceFixtures.key()
        _ = try await store.insert(noExpiry, for: other)
        try expect(
            try await store.record(for: other) == noExpiry,
            "a record without expiry, refresh token or scopes "
                + "(or with an unknown status) does not round-trip")
        try expect(try await store.record(for: key) == record, "writing another key changed this one")
        try await store.deleteRecord(for: key)
        try await store.deleteRecord(for: other)
    }

    func secretsSurviveRoundTrip(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key(principal: "ünïcødé principal: with/slashes%and:colons")
        let awkward = "a\"quote\\backslash\n\t/slash 🔑 ü \u{7f} {\"json\":1} ' -- ; DROP TABLE"
        let long = String(repeating: "x9_-.", count: 2000)
        var record = ConformanceFixtures.record()
        record.accessToken = Secret(awkward)
        record.refreshToken = Secret(long)
        record.idToken = Secret("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")
        record.extraFields = ["weird key \"x\"": .string(awkward)]
        _ = try await store.insert(record, for: key)
        let read = try require(try await store.record(for: key), "the record is not found")
        try expect(read.accessToken == record.accessToken, "an access token with quotes, escapes and emoji changed")
        try expect(read.refreshToken == record.refreshToken, "a 10,000-character refresh token changed")
        try expect(read.idToken == record.idToken, "the ID token changed")
        try expect(read.extraFields == record.extraFields, "extra fields changed")

        var rotated = read
        rotated.accessToken = Secret("rotated-" + awkward)
        rotated.refreshToken = Secret("rotated-refresh")
        guard case .swapped(let stored) = try await store.compareAndSwap(key, expecting: read.version, with: rotated)
        else { throw Mismatch(message: "compare-and-swap with the current version did not swap", line: #line) }
        let reread = try require(try await store.record(for: key), "the swapped record is not found")
        try expect(reread == stored, "the record read after a swap differs from the one the swap returned")
        try expect(reread.refreshToken == Secret("rotated-refresh"), "the rotated refresh token was not stored")
        try await store.deleteRecord(for: key)
    }

    func insertIfAbsent(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let first = ConformanceFixtures.record("first")
        let second = ConformanceFixtures.record("second", version: first.version + 1000)
        try expect(try await store.insert(first, for: key) == .inserted(first), "the first insert did not insert")
        let outcome = try await store.insert(second, for: key)
        try expect(outcome == .exists(current: first), "a second insert did not return .exists(current: first)")
        try expect(try await store.record(for: key) == first, "a second insert changed the stored record")
        try await store.deleteRecord(for: key)
        try expect(
            try await store.insert(second, for: key) == .inserted(second), "insert after delete did not insert")
        try await store.deleteRecord(for: key)
    }

    func concurrentInsert(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let contenders = 16
        let outcomes = try await withThrowingTaskGroup(of: InsertOutcome.self) { group in
            for index in 0..<contenders {
                group.addTask {
                    try await store.insert(ConformanceFixtures.record("contender-\(index)", version: 10), for: key)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let winners = outcomes.compactMap { outcome -> TokenRecord? in
            if case .inserted(let record) = outcome { return record }
            return nil
        }
        try expect(winners.count == 1, "\(winners.count) of \(contenders) concurrent inserts won (expected 1)")
        let stored = try require(try await store.record(for: key), "no record after concurrent inserts")
        try expect(stored == winners[0], "the stored record is not the insert winner's")
        for outcome in outcomes {
            if case .exists(let current) = outcome {
                try expect(current == stored, "a losing insert was shown a record other than the winner's")
            }
        }
        try await store.deleteRecord(for: key)
    }

    func compareAndSwapOutcomes(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let original = ConformanceFixtures.record("original")
        _ = try await store.insert(original, for: key)

        // The new record's own version is ignored: the stored version is expected + 1.
        let next = ConformanceFixtures.record("next", version: 3)
        let outcome = try await store.compareAndSwap(key, expecting: original.version, with: next)
        var expected = next
        expected.version = original.version + 1
        try expect(
            outcome == .swapped(expected),
            "a swap with the current version did not return .swapped(new) "
                + "with version expected + 1")
        try expect(try await store.record(for: key) == expected, "the stored record is not what the swap returned")

        // A stale version conflicts and shows the current record, changing nothing.
        let stale = try await store.compareAndSwap(
            key, expecting: original.version, with: ConformanceFixtures.record("stale"))
        try expect(
            stale == .conflict(current: expected),
            "a swap with a stale version did not return "
                + ".conflict(current:) with the stored record")
        let ahead = try await store.compareAndSwap(
            key, expecting: expected.version + 5, with: ConformanceFixtures.record("x"))
        try expect(ahead == .conflict(current: expected), "a swap with a future version did not conflict")
        try expect(try await store.record(for: key) == expected, "a conflicting swap changed the record")

        // A second swap builds on the first.
        let third = try await store.compareAndSwap(
            key, expecting: expected.version, with: ConformanceFixtures.record("third"))
        guard case .swapped(let stored) = third, stored.version == original.version + 2 else {
            throw Mismatch(message: "a second swap did not store version + 2", line: #line)
        }
        try await store.deleteRecord(for: key)
    }

    func missingNeverResurrects(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let never = try await store.compareAndSwap(key, expecting: 1, with: ConformanceFixtures.record())
        try expect(never == .missing, "a swap on a key never written did not return .missing")
        try expect(try await store.record(for: key) == nil, "a swap on a missing key created a record")

        let record = ConformanceFixtures.record()
        _ = try await store.insert(record, for: key)
        try expect(try await store.deleteRecord(for: key), "delete of an existing record returned false")
        let afterDelete = try await store.compareAndSwap(
            key, expecting: record.version, with: ConformanceFixtures.record())
        try expect(afterDelete == .missing, "a swap after delete did not return .missing")
        try expect(try await store.record(for: key) == nil, "a swap after delete resurrected the record")
        try expect(try await store.setStatus(.revoked, for: key) == nil, "setStatus on a deleted key returned a record")
        try expect(try await store.record(for: key) == nil, "setStatus on a deleted key created a record")
        try expect(!(try await store.keys(tenant: key.tenant).contains(key)), "a deleted key is still listed")
    }

    func setStatusBumpsVersion(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let record = ConformanceFixtures.record()
        _ = try await store.insert(record, for: key)
        let revoked = try require(try await store.setStatus(.revoked, for: key), "setStatus(.revoked) returned nil")
        try expect(revoked.status == .revoked, "setStatus(.revoked) did not set the status")
        try expect(revoked.version == record.version + 1, "setStatus did not bump the version by one")
        try expect(revoked.accessToken == record.accessToken, "setStatus changed the tokens")
        try expect(try await store.record(for: key) == revoked, "the stored record is not what setStatus returned")
        let stale = try await store.compareAndSwap(key, expecting: record.version, with: record)
        try expect(stale == .conflict(current: revoked), "a swap with the pre-status version did not conflict")

        let again = try require(try await store.setStatus(.revoked, for: key), "a repeated setStatus returned nil")
        try expect(again.status == .revoked && again.version >= revoked.version, "a repeated setStatus went back")

        let reauth = try require(
            try await store.setStatus(.needsReauthorization, for: key), "setStatus(.needsReauthorization) returned nil")
        try expect(reauth.status == .needsReauthorization, "setStatus(.needsReauthorization) did not set the status")
        try expect(reauth.version == again.version + 1, "setStatus(.needsReauthorization) did not bump the version")
        try expect(try await store.record(for: key) == reauth, "the stored record is not what setStatus returned")
        try await store.deleteRecord(for: key)
    }

    func delete(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let neighbour = try ConformanceFixtures.key(tenant: key.tenant, principal: "neighbour")
        try expect(!(try await store.deleteRecord(for: key)), "deleting a key never written returned true")
        _ = try await store.insert(ConformanceFixtures.record(), for: key)
        let kept = ConformanceFixtures.record()
        _ = try await store.insert(kept, for: neighbour)
        try expect(try await store.deleteRecord(for: key), "deleting an existing record returned false")
        try expect(try await store.record(for: key) == nil, "a deleted record is still readable")
        try expect(!(try await store.deleteRecord(for: key)), "deleting twice returned true the second time")
        try expect(try await store.record(for: neighbour) == kept, "deleting one key changed another")
        try expect(try await store.keys(tenant: key.tenant) == [neighbour], "keys still lists the deleted key")
        try await store.deleteRecord(for: neighbour)
    }

    func keysListing(_ store: any BrokerStore) async throws {
        let first = try ConformanceFixtures.tenant()
        let second = try ConformanceFixtures.tenant()
        var firstKeys: [StoreKey] = []
        for (principal, scopes) in [
            ("zed", ["read"]), ("amy", ["read"]), ("amy", ["write"]), ("bob", []),
            ("amy", ["read", "write"]),
        ] as [(String, ScopeSet)] {
            firstKeys.append(try ConformanceFixtures.key(tenant: first, principal: principal, scopes: scopes))
        }
        let secondKeys = [
            try ConformanceFixtures.key(tenant: second, principal: "x"), try ConformanceFixtures.key(tenant: second),
        ]
        for key in firstKeys + secondKeys { _ = try await store.insert(ConformanceFixtures.record(), for: key) }

        let byID = { (lhs: StoreKey, rhs: StoreKey) in lhs.storageID.utf8.lexicographicallyPrecedes(rhs.storageID.utf8)
        }
        try expect(
            try await store.keys(tenant: first) == firstKeys.sorted(by: byID),
            "keys(tenant:) is not exactly the tenant's keys in storageID order")
        try expect(
            try await store.keys(tenant: second) == secondKeys.sorted(by: byID),
            "keys(tenant:) of a second tenant is wrong")
        let all = try await store.keys(tenant: nil)
        try expect(Set(firstKeys + secondKeys).isSubset(of: Set(all)), "keys(tenant: nil) misses keys")
        try expect(all == all.sorted(by: byID), "keys(tenant: nil) is not in storageID order")
        try expect(try await store.keys(tenant: try ConformanceFixtures.tenant()) == [], "an unknown tenant has keys")
        for key in firstKeys + secondKeys { try await store.deleteRecord(for: key) }
        try expect(try await store.keys(tenant: first) == [], "keys remain listed after delete")
    }

    func concurrentCompareAndSwap(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        var initial = ConformanceFixtures.record("initial")
        initial.extraFields = ["counter": .number(0)]
        _ = try await store.insert(initial, for: key)
        let tasks = options.concurrentTasks
        let attempts = options.attemptsPerTask

        func counter(_ record: TokenRecord) throws -> Int {
            guard case .number(let value)? = record.extraFields["counter"] else {
                throw Mismatch(message: "a racing write lost the counter field", line: #line)
            }
            return Int(value)
        }

        let wins = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var known = try require(try await store.record(for: key), "the raced record is missing")
                    var won: [UInt64] = []
                    for attempt in 0..<attempts {
                        var next = known
                        next.accessToken = Secret("task-\(task)-attempt-\(attempt)")
                        next.extraFields["counter"] = .number(Double(try counter(known) + 1))
                        switch try await store.compareAndSwap(key, expecting: known.version, with: next) {
                        case .swapped(let stored):
                            try expect(stored.version == known.version + 1, "a swap did not store expected + 1")
                            try expect(try counter(stored) == counter(known) + 1, "a swap did not store the new record")
                            try expect(stored.accessToken == next.accessToken, "a swap stored another record")
                            won.append(stored.version)
                            known = stored
                        case .conflict(let current):
                            try expect(
                                current.version > known.version,
                                "a conflict returned version \(current.version), not newer than \(known.version)")
                            known = current
                        case .missing:
                            throw Mismatch(message: "a swap reported .missing for an existing record", line: #line)
                        }
                    }
                    return won
                }
            }
            return try await group.reduce(into: [[UInt64]]()) { $0.append($1) }
        }

        for taskWins in wins {
            try expect(
                taskWins == taskWins.sorted() && Set(taskWins).count == taskWins.count,
                "one task's winning versions did not strictly increase")
        }
        let allWins = wins.flatMap { $0 }
        try expect(!allWins.isEmpty, "no swap succeeded")
        try expect(Set(allWins).count == allWins.count, "two swaps won the same version")
        let final = try require(try await store.record(for: key), "the raced record vanished")
        try expect(
            final.version == initial.version + UInt64(allWins.count),
            "final version \(final.version) is not initial + \(allWins.count) winning swaps (lost update)")
        try expect(
            allWins.sorted() == Array((initial.version + 1)...final.version),
            "winning versions are not exactly initial + 1 ... final")
        let finalCounter = try counter(final)
        try expect(
            finalCounter == allWins.count,
            "the counter is \(finalCounter), not the "
                + "\(allWins.count) winning swaps (lost update)")
        try await store.deleteRecord(for: key)
    }
}
