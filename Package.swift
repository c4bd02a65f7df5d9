// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "swift-oauth-broker",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "OAuthBroker", targets: ["OAuthBroker"]),
        .library(name: "OAuthBrokerTesting", targets: ["OAuthBrokerTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    ],
    targets: [
        .target(
            name: "OAuthBroker",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "OAuthBrokerTesting",
            dependencies: ["OAuthBroker"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OAuthBrokerTests",
            dependencies: ["OAuthBroker", "OAuthBrokerTesting"],
            swiftSettings: strict
        ),
    ]
)
