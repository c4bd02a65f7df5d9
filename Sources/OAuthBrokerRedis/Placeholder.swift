// OAuthBrokerRedis: implementation pending.
