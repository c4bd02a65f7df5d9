/// The version of swift-oauth-broker, as sent in the default `User-Agent` (`swift-oauth-broker/<version>`).
public let swiftOAuthBrokerVersion = "0.1.0"
