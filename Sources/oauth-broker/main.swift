import Foundation
import OAuthBrokerTools

// `oauth-broker`: OAuth 2.0 tokens from the command line. See `OAuthBrokerCommand` and README.md.
let status = await CommandRunner.run(Array(CommandLine.arguments.dropFirst()))
await StoreURL.closeOpenedStores()
exit(status)
