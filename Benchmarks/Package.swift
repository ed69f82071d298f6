// swift-tools-version:6.1
// Micro-benchmarks (ordo-one/benchmark). Kept out of the root package so that `swift build` and
// `swift test` never compile package-benchmark. Run: `cd Benchmarks && swift package benchmark`.
import PackageDescription

let package = Package(
    name: "sonic-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sonic-share", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "SonicMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SonicWire", package: "sonic-share"),
                .product(name: "SonicCore", package: "sonic-share"),
                .product(name: "SonicCompression", package: "sonic-share"),
                .product(name: "SonicIndex", package: "sonic-share"),
                .product(name: "SonicSwarm", package: "sonic-share"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/SonicMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
