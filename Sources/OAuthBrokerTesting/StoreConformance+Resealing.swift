import Foundation
import OAuthBroker

// The re-sealing checks of StoreConformance, for stores that are ResealableStore (others pass them trivially).
extension StoreConformance {
    func resealKeepsRecordsAndSessions(_ store: any BrokerStore) async throws {
        guard let store = store as? any ResealableStore else { return }
        let tenant = try ConformanceFixtures.tenant()
        var records: [StoreKey: TokenRecord] = [:]
        for index in 0..<3 {
            let key = try ConformanceFixtures.key(tenant: tenant, principal: "user\(index)")
            let record = ConformanceFixtures.record()
            _ = try await store.insert(record, for: key)
            records[key] = record
        }
        let pending = ConformanceFixtures.session(for: try ConformanceFixtures.key(tenant: tenant), expiresIn: 600)
        let used = ConformanceFixtures.session(for: try ConformanceFixtures.key(tenant: tenant), expiresIn: 600)
        try await store.saveSession(pending)
        try await store.saveSession(used)
        _ = try await store.takeSession(id: used.id)

        let report = try await store.resealAll(tenant: tenant)
        try expect(report.records == 3, "resealAll re-encoded \(report.records) of the tenant's 3 records")
        if !(store is MemoryStore) {
            try expect(report.sessions >= 1, "resealAll re-encoded no session, but one was pending")
        }
        for (key, record) in records {
            var expected = record
            expected.version = record.version + 1
            let stored = try require(try await store.record(for: key), "a record vanished when it was re-encoded")
            try expect(stored == expected, "a re-encoded record changed content, or its version did not go up by 1")
        }
        try expect(try await store.takeSession(id: pending.id) == pending, "a re-encoded session changed or vanished")
        try expect(try await store.takeSession(id: pending.id) == nil, "a re-encoded session was returned twice")
        try expect(try await store.takeSession(id: used.id) == nil, "re-encoding brought back a session already taken")
    }
}
