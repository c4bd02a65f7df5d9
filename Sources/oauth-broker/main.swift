import Foundation

// `oauth-broker`: OAuth 2.0 tokens from the command line. See `OAuthBrokerCommand` and README.md.
let status = await CommandRunner.run(Array(CommandLine.arguments.dropFirst()))
exit(status)
