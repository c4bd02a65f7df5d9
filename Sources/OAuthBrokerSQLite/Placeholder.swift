// OAuthBrokerSQLite: implementation pending.
