public import OAuthBroker
