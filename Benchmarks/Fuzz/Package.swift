// swift-tools-version:6.1
// libFuzzer target for the frame decoder. Build and run with ./run.sh SECONDS (docs/SECURITY.md).
import PackageDescription

let package = Package(
    name: "sonic-fuzz",
    // A static library, linked by run.sh with `swiftc -sanitize=fuzzer`: libFuzzer brings its
    // own `main`, which an executable target's renamed entry point would clash with.
    products: [.library(name: "FuzzFrameDecoder", type: .static, targets: ["FuzzFrameDecoder"])],
    dependencies: [
        .package(name: "sonic-share", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .target(
            name: "FuzzFrameDecoder",
            dependencies: [
                .product(name: "SonicWire", package: "sonic-share"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
