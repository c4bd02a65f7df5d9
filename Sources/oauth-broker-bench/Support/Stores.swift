import OAuthBroker
import OAuthBrokerRedis
import OAuthBrokerTools

/// Parses a store URL and opens the store. `redis://` URLs open a ``RedisStore`` here directly, so the bench works
/// whether or not ``StoreURL/makeStore(now:)`` knows Redis.
func openStore(_ string: String) async throws -> (StoreURL, any BrokerStore) {
    let url = try StoreURL(string)
    if url.kind == .redis { return (url, try RedisStore(url: string)) }
    return (url, try await url.makeStore())
}
