public import OAuthBroker
public import PostgresNIO
