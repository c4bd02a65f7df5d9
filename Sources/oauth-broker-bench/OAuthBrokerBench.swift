import ArgumentParser

/// `oauth-broker-bench`: benchmarks of the broker, its stores and its transport, printed as JSON lines.
@main
struct OAuthBrokerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oauth-broker-bench",
        abstract: "Benchmarks swift-oauth-broker; prints one JSON object per line.",
        discussion: """
            Build in release mode: swift run -c release oauth-broker-bench <scenario> [options].
            Scenarios use an embedded mock authorization server on 127.0.0.1 unless --token-endpoint is given.
            Lines with "baseline": true are reference figures measured in the same run; a measured line's "ratio"
            is its rate divided by the baseline's.
            """,
        subcommands: [
            CachedScenario.self, HerdScenario.self, KeysScenario.self, KeysWarmScenario.self,
            StoreFetchScenario.self, StoreCASScenario.self, MultiprocessHerdScenario.self,
            MultiprocessChild.self, ParseScenario.self, CodecScenario.self,
        ])
}
