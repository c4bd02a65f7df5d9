import OAuthBroker
import OAuthBrokerTools

/// Parses a store URL (`memory:`, `file:PATH`, `sqlite:PATH`, `redis://…`) and opens the store.
func openStore(_ string: String) async throws -> (StoreURL, any BrokerStore) {
    let url = try StoreURL(string)
    return (url, try await url.makeStore())
}
