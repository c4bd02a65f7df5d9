public import AsyncHTTPClient
public import OAuthBroker
