import OAuthBroker
import OAuthBrokerTools

/// Parses a store URL (`memory:`, `file:PATH`, `sqlite:PATH`, `redis://…`) and opens the store, sealed under a
/// random key with `--sealed`.
func openStore(_ options: StoreOptions) async throws -> (StoreURL, any BrokerStore) {
    let url = try StoreURL(options.store)
    let codec: any StoreCodec =
        options.sealed ? try SealingStoreCodec(keys: [.random(id: "bench")]) : JSONStoreCodec()
    return (url, try await url.makeStore(codec: codec))
}
