import OAuthBroker

// The isolation check of StoreConformance: identifiers that Swift's `String` calls equal are different keys.
extension StoreConformance {
    /// `jos\u{E9}` and `jose\u{301}` (canonically equivalent, different bytes) are two principals with two records;
    /// two such tenants list only their own keys; and keys whose components hold a `:` followed by a combining mark
    /// (which a `Character`-based escape would leave unescaped) never share a storage ID.
    func identifiersCompareByteForByte(_ store: any BrokerStore) async throws {
        let suffix = ConformanceFixtures.randomHex()
        let tenant = try ConformanceFixtures.tenant()
        let composed = try ConformanceFixtures.key(tenant: tenant, principal: "jos\u{E9}-\(suffix)")
        let decomposed = try ConformanceFixtures.key(tenant: tenant, principal: "jose\u{301}-\(suffix)")
        try expect(composed != decomposed, "canonically equivalent principals make equal keys")
        try expect(composed.storageID != decomposed.storageID, "canonically equivalent principals share a storage ID")

        let first = ConformanceFixtures.record("composed-\(suffix)")
        let second = ConformanceFixtures.record("decomposed-\(suffix)")
        try expect(try await store.insert(first, for: composed) == .inserted(first), "the first principal's insert")
        try expect(
            try await store.insert(second, for: decomposed) == .inserted(second),
            "inserting for jose\\u{301} found jos\\u{E9}'s record: the store compares keys as Unicode strings")
        try expect(try await store.record(for: composed) == first, "jos\\u{E9} reads another principal's record")
        try expect(try await store.record(for: decomposed) == second, "jose\\u{301} reads another principal's record")

        var rotated = second
        rotated.refreshToken = Secret("rotated-\(suffix)")
        guard case .swapped = try await store.compareAndSwap(decomposed, expecting: second.version, with: rotated)
        else { throw Mismatch(message: "compare-and-swap on jose\\u{301} did not swap", line: #line) }
        try expect(
            try await store.record(for: composed) == first,
            "a compare-and-swap on jose\\u{301} changed jos\\u{E9}'s record")
        try await store.deleteRecord(for: composed)
        try expect(try await store.record(for: decomposed) != nil, "deleting jos\\u{E9} deleted jose\\u{301}")

        // Two tenants spelled with the two normalizations list only their own keys.
        let composedTenant = try TenantID("conformance-\(suffix)-jos\u{E9}")
        let decomposedTenant = try TenantID("conformance-\(suffix)-jose\u{301}")
        let ofComposed = try ConformanceFixtures.key(tenant: composedTenant)
        let ofDecomposed = try ConformanceFixtures.key(tenant: decomposedTenant)
        _ = try await store.insert(ConformanceFixtures.record(), for: ofComposed)
        _ = try await store.insert(ConformanceFixtures.record(), for: ofDecomposed)
        try expect(try await store.keys(tenant: composedTenant) == [ofComposed], "keys(tenant:) mixes two tenants")
        try expect(try await store.keys(tenant: decomposedTenant) == [ofDecomposed], "keys(tenant:) mixes two tenants")

        // `:` + U+0301 is one Character; escaped per byte, these two keys stay apart.
        let colonTenant = try ConformanceFixtures.key(
            tenant: try TenantID("conformance-\(suffix):\u{301}b"), principal: "\u{301}c")
        let colonPrincipal = try ConformanceFixtures.key(
            tenant: try TenantID("conformance-\(suffix)"), principal: "\u{301}b:\u{301}c")
        try expect(colonTenant.storageID != colonPrincipal.storageID, "a colon before a combining mark was not escaped")
        let third = ConformanceFixtures.record("colon-tenant-\(suffix)")
        let fourth = ConformanceFixtures.record("colon-principal-\(suffix)")
        _ = try await store.insert(third, for: colonTenant)
        try expect(
            try await store.insert(fourth, for: colonPrincipal) == .inserted(fourth),
            "two keys with colons before combining marks share one record")
        try expect(try await store.record(for: colonTenant) == third, "the colon-tenant key reads another record")

        for key in [decomposed, ofComposed, ofDecomposed, colonTenant, colonPrincipal] {
            try await store.deleteRecord(for: key)
        }
    }
}
