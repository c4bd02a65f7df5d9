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
        .library(name: "OAuthBrokerCurl", targets: ["OAuthBrokerCurl"]),
        .library(name: "OAuthBrokerSQLite", targets: ["OAuthBrokerSQLite"]),
        .library(name: "OAuthBrokerRedis", targets: ["OAuthBrokerRedis"]),
        .library(name: "OAuthBrokerPostgres", targets: ["OAuthBrokerPostgres"]),
        .library(name: "OAuthBrokerAsyncHTTPClient", targets: ["OAuthBrokerAsyncHTTPClient"]),
        .library(name: "OAuthBrokerTesting", targets: ["OAuthBrokerTesting"]),
        .executable(name: "oauth-broker", targets: ["oauth-broker"]),
        .executable(name: "mock-authorization-server", targets: ["mock-authorization-server"]),
        .executable(name: "oauth-broker-bench", targets: ["oauth-broker-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Only the targets below that name them build these: a user of `OAuthBroker` alone builds none of them.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        // The core: pure Swift, no C. Users of any store or transport link this.
        .target(
            name: "OAuthBroker",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),

        // libcurl transport (the default).
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        .target(name: "CCurlShims", dependencies: ["CCurl"]),
        .target(
            name: "OAuthBrokerCurl",
            dependencies: [
                "OAuthBroker", "CCurl", "CCurlShims", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // SQLite store.
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .target(name: "OAuthBrokerSQLite", dependencies: ["OAuthBroker", "CSQLite"], swiftSettings: strict),

        // Redis store.
        .systemLibrary(
            name: "CHiredis", path: "Sources/CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]),
        .target(
            name: "OAuthBrokerRedis",
            dependencies: [
                "OAuthBroker", "CHiredis", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        // PostgreSQL store, on postgres-nio's PostgresClient.
        .target(
            name: "OAuthBrokerPostgres",
            dependencies: [
                "OAuthBroker",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        // AsyncHTTPClient transport.
        .target(
            name: "OAuthBrokerAsyncHTTPClient",
            dependencies: [
                "OAuthBroker",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                // NIOConnectionError (a connection attempt's failure) is declared there.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        // Test doubles: fake transport, test clock, store conformance suite, mock authorization server.
        .target(
            name: "OAuthBrokerTesting",
            dependencies: [
                "OAuthBroker",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The transport conformance suite's HTTPS server and the test CA it makes.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),

        // Shared by the executables: store URLs (`memory:`, `file:`, `sqlite:`, `redis://`), provider files.
        .target(
            name: "OAuthBrokerTools",
            dependencies: [
                "OAuthBroker", "OAuthBrokerCurl", "OAuthBrokerSQLite", "OAuthBrokerRedis", "OAuthBrokerPostgres",
                "OAuthBrokerAsyncHTTPClient", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // Executables.
        .executableTarget(
            name: "oauth-broker",
            dependencies: [
                "OAuthBroker", "OAuthBrokerCurl", "OAuthBrokerSQLite", "OAuthBrokerRedis", "OAuthBrokerTesting",
                "OAuthBrokerTools", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "mock-authorization-server",
            dependencies: ["OAuthBrokerTesting", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "oauth-broker-bench",
            dependencies: [
                "OAuthBroker", "OAuthBrokerCurl", "OAuthBrokerSQLite", "OAuthBrokerRedis", "OAuthBrokerTesting",
                "CSQLite", "CHiredis", "OAuthBrokerTools", "OAuthBrokerPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Fuzz targets for the parsers of untrusted input, and their libFuzzer driver (built by scripts/fuzz.sh).
        .target(name: "OAuthBrokerFuzzing", dependencies: ["OAuthBroker"], swiftSettings: strict),
        .executableTarget(name: "oauth-broker-fuzz", dependencies: ["OAuthBrokerFuzzing"], swiftSettings: strict),
        // Runs one broker operation in its own OS process; the multi-process tests spawn it.
        .executableTarget(
            name: "oauth-broker-test-helper",
            dependencies: [
                "OAuthBroker", "OAuthBrokerCurl", "OAuthBrokerSQLite", "OAuthBrokerRedis", "OAuthBrokerTools",
            ],
            swiftSettings: strict
        ),

        // Tests: one target per source target.
        .testTarget(
            name: "OAuthBrokerTests",
            dependencies: [
                "OAuthBroker", "OAuthBrokerTesting", "OAuthBrokerFuzzing",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "OAuthBrokerCurlTests",
            dependencies: [
                "OAuthBrokerCurl", "OAuthBrokerTesting",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "OAuthBrokerSQLiteTests",
            dependencies: [
                "OAuthBrokerSQLite", "OAuthBrokerCurl", "OAuthBrokerTesting", "OAuthBrokerTools", "CSQLite",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "OAuthBrokerRedisTests",
            dependencies: ["OAuthBrokerRedis", "OAuthBrokerCurl", "OAuthBrokerTesting", "CHiredis"],
            swiftSettings: strict),
        .testTarget(
            name: "OAuthBrokerTestingTests",
            dependencies: [
                "OAuthBrokerTesting",
                // A minimal HTTP/1.1 client over loopback, to test the mock server's wire behaviour.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "OAuthBrokerPostgresTests",
            dependencies: [
                "OAuthBrokerPostgres", "OAuthBrokerCurl", "OAuthBrokerTesting", "OAuthBrokerTools",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "OAuthBrokerAsyncHTTPClientTests",
            dependencies: [
                "OAuthBrokerAsyncHTTPClient", "OAuthBrokerCurl", "OAuthBrokerTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict),
        // Runs the built `oauth-broker` as a child process; unit-tests its provider files and exit codes.
        .testTarget(
            name: "OAuthBrokerCLITests",
            // CSQLite: a second connection that holds a SQLite store's write lock while the CLI writes.
            dependencies: ["OAuthBrokerTesting", "OAuthBrokerTools", "CSQLite"], swiftSettings: strict
        ),
    ]
)
