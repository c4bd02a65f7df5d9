@testable import OAuthBroker
