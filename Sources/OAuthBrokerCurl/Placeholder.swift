// OAuthBrokerCurl: implementation pending.
