// swift-tools-version:6.0
import PackageDescription

// Runnable examples. Each starts a MockAuthorizationServer on 127.0.0.1, so they work offline:
//   swift run --package-path Examples ClientCredentials
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let broker = "swift-oauth-broker"

let package = Package(
    name: "swift-oauth-broker-examples",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: broker, path: "../")
    ],
    targets: [
        .executableTarget(
            name: "ClientCredentials",
            dependencies: [
                .product(name: "OAuthBroker", package: broker),
                .product(name: "OAuthBrokerCurl", package: broker),
                .product(name: "OAuthBrokerTesting", package: broker),
            ],
            path: "ClientCredentials", swiftSettings: strict),
        .executableTarget(
            name: "AuthorizationCode",
            dependencies: [
                .product(name: "OAuthBroker", package: broker),
                .product(name: "OAuthBrokerCurl", package: broker),
                .product(name: "OAuthBrokerTesting", package: broker),
            ],
            path: "AuthorizationCode", swiftSettings: strict),
        .executableTarget(
            name: "CustomTransport",
            dependencies: [
                .product(name: "OAuthBroker", package: broker),
                .product(name: "OAuthBrokerTesting", package: broker),
            ],
            path: "CustomTransport", swiftSettings: strict),
        .executableTarget(
            name: "ManyTenants",
            dependencies: [
                .product(name: "OAuthBroker", package: broker),
                .product(name: "OAuthBrokerCurl", package: broker),
                .product(name: "OAuthBrokerSQLite", package: broker),
                .product(name: "OAuthBrokerTesting", package: broker),
            ],
            path: "ManyTenants", swiftSettings: strict),
    ]
)
