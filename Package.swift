// swift-tools-version:6.1
import PackageDescription

/// Swift 6 language mode, plus: members are visible only from modules a file imports (so
/// every dependency is declared where it is used), and existential types are spelled `any`.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
]

/// Release executables carry the Swift runtime and Foundation inside them, with packed relative
/// relocations (DT_RELR). A dynamic build spends most of a short run in the dynamic loader:
/// symbol lookup and relocation across twenty shared libraries (`sonic-get --version` 22.3 ms
/// against 11.6 ms; docs/PERFORMANCE.md, "Small files"). The libraries are named in link
/// order because the modules are compiled against the shared toolchain's interfaces, whose
/// autolink entries do not order the static archives. Executables stay position-independent.
/// `--no-export-dynamic` undoes the toolchain's `-export-dynamic` for static runtimes: it
/// put every public symbol (31,118 in `sonic-get`) into the dynamic symbol table, which the
/// runtime's start-up `dladdr` scans and the loader hashes; nothing looks our symbols up
/// dynamically. `sonic-get --version` spends 1–2 ms less CPU (docs/PERFORMANCE.md).
let staticRuntimeInRelease: [LinkerSetting] = [
    .unsafeFlags([
        "-static-stdlib", "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
        "-lFoundation", "-lFoundationInternationalization", "-lFoundationEssentials", "-lCoreFoundation",
        "-l_FoundationICU", "-l_FoundationCShims", "-l_FoundationCollections",
        "-lswiftSynchronization", "-lswift_RegexParser", "-lswift_StringProcessing",
    ], .when(platforms: [.linux], configuration: .release)),
]

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "sonic-share",
    // Linux only: the code calls Glibc directly (pread/pwrite, fcntl locks, sync_file_range,
    // openat), so no other platform is claimed here.
    products: [
        .executable(name: "sonic-index", targets: ["sonic-index"]),
        .executable(name: "sonic-seed", targets: ["sonic-seed"]),
        .executable(name: "sonic-get", targets: ["sonic-get"]),
        .executable(name: "sonic-search", targets: ["sonic-search"]),
        .executable(name: "sonic-bench", targets: ["sonic-bench"]),
        // For the nested packages under Benchmarks/ (micro-benchmarks, fuzzing).
        .library(name: "SonicWire", targets: ["SonicWire"]),
        .library(name: "SonicCore", targets: ["SonicCore"]),
        .library(name: "SonicCompression", targets: ["SonicCompression"]),
        .library(name: "SonicIndex", targets: ["SonicIndex"]),
        .library(name: "SonicSwarm", targets: ["SonicSwarm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        // Only the PostgreSQL index store uses it (SonicIndexPostgres); it adds minutes to a clean build.
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
        // TLS 1.3 on every connection, with self-signed certificates made on first start.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", exact: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", exact: "1.7.4"),
    ],
    targets: [
        // System zlib (zlib1g-dev), used for per-block deflate on the wire.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libdeflate (libdeflate-dev): decodes the same zlib streams about 2.7× faster than
        // zlib on our blocks (docs/PERFORMANCE.md); deflate stays on system zlib.
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        // System calls the Glibc module does not export (sync_file_range).
        .target(name: "CSystemShims"),

        // Content identity: manifests, content ids, sizes, endpoints. No I/O beyond hashing files.
        .target(
            name: "SonicCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The wire protocol: message enum, frame codec, limits. Pure NIOCore.
        .target(
            name: "SonicWire",
            dependencies: ["SonicCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // Per-block zlib codec, compressibility probe, token-bucket rate limiter.
        .target(
            name: "SonicCompression",
            dependencies: ["CZlib", "CDeflate", "SonicCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // Connection plumbing shared by every program: bootstrap, handshake, index client.
        .target(
            name: "SonicNet",
            dependencies: [
                "SonicWire", "SonicCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // The central index: a pure registry plus the server that drives it.
        .target(
            name: "SonicIndex",
            dependencies: [
                "SonicNet", "SonicWire", "SonicCore", "CSystemShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The index's PostgreSQL store: many index processes sharing one database.
        .target(
            name: "SonicIndexPostgres",
            dependencies: [
                "SonicIndex", "SonicWire", "SonicCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The upload side: folder scan, manifest cache, peer server, index announcer.
        .target(
            name: "SonicSeed",
            dependencies: [
                "SonicNet", "SonicCompression", "SonicWire", "SonicCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The download side: piece scheduler, partial file, resume record, swarm engine.
        .target(
            name: "SonicSwarm",
            dependencies: [
                "SonicNet", "SonicSeed", "SonicCompression", "SonicWire", "SonicCore", "CSystemShims",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // What the command-line programs share: options, unit parsing, output, shutdown.
        .target(
            name: "SonicCLI",
            dependencies: [
                "SonicNet", "SonicWire", "SonicCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The peer's web app: JSON API, event stream, browser page and metrics over HTTP.
        .target(
            name: "SonicWeb",
            dependencies: [
                "SonicSeed", "SonicSwarm", "SonicNet", "SonicCompression", "SonicWire", "SonicCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // Shared by the end-to-end tests and sonic-bench: managed child processes, seeded data.
        .target(name: "SonicTestSupport", dependencies: ["SonicCore", "SonicWire", "CSystemShims",
                                                       .product(name: "NIOCore", package: "swift-nio")],
                swiftSettings: strict),

        .executableTarget(
            name: "sonic-index",
            dependencies: ["SonicIndex", "SonicIndexPostgres", "SonicWeb", "SonicCLI", "SonicCore", "SonicNet", argumentParser, logging,
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict,
            linkerSettings: staticRuntimeInRelease
        ),
        .executableTarget(name: "sonic-seed", dependencies: ["SonicSeed", "SonicWeb", "SonicCLI", "SonicCore", argumentParser, logging,
                                                            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                          swiftSettings: strict, linkerSettings: staticRuntimeInRelease),
        .executableTarget(
            name: "sonic-get",
            dependencies: ["SonicSwarm", "SonicSeed", "SonicCLI", "SonicCompression", "SonicCore", "SonicNet", "SonicWire",
                           argumentParser, logging, .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strict,
            linkerSettings: staticRuntimeInRelease
        ),
        .executableTarget(name: "sonic-search", dependencies: ["SonicCLI", "SonicNet", "SonicWire", argumentParser, logging],
                          swiftSettings: strict, linkerSettings: staticRuntimeInRelease),
        .executableTarget(
            name: "sonic-bench",
            dependencies: ["SonicCLI", "SonicCore", "SonicWire", "SonicTestSupport", argumentParser],
            path: "Benchmarks/SonicBench",
            swiftSettings: strict,
            linkerSettings: staticRuntimeInRelease
        ),

        .testTarget(name: "SonicCoreTests", dependencies: ["SonicCore"], swiftSettings: strict),
        .testTarget(name: "SonicCLITests", dependencies: ["SonicCLI", "SonicCore", "SonicWire"], swiftSettings: strict),
        .testTarget(
            name: "SonicWireTests",
            dependencies: ["SonicWire", "SonicCore", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOTestUtils", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(name: "SonicCompressionTests", dependencies: ["SonicCompression", .product(name: "NIOCore", package: "swift-nio")],
                    swiftSettings: strict),
        .testTarget(name: "SonicIndexTests", dependencies: ["SonicIndex", "SonicCore", "SonicWire", "SonicTestSupport"],
                    swiftSettings: strict),
        .testTarget(
            name: "SonicIndexPostgresTests",
            dependencies: ["SonicIndexPostgres", "SonicIndex", "SonicCore", "SonicWire", "SonicTestSupport", logging,
                           .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SonicNetTests",
            dependencies: ["SonicNet", "SonicCore", "SonicWire", .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: strict
        ),
        .testTarget(name: "SonicWebTests", dependencies: ["SonicWeb", "SonicCore"], swiftSettings: strict),
        .testTarget(name: "SonicSeedTests", dependencies: ["SonicSeed", "SonicCore", "SonicWire", "SonicNet", "SonicTestSupport", logging,
                                                           .product(name: "NIOCore", package: "swift-nio")],
                    swiftSettings: strict),
        .testTarget(name: "SonicSwarmTests", dependencies: ["SonicSwarm", "SonicCore", "SonicWire", "SonicTestSupport",
                                                            "SonicSeed", "SonicNet", logging,
                                                            .product(name: "NIOCore", package: "swift-nio")],
                    swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["SonicCore", "SonicWire", "SonicNet", "SonicTestSupport", logging,
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strict
        ),
    ]
)
