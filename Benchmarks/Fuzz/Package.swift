// swift-tools-version:6.1
// libFuzzer target for the frame decoder. Build and run with ./run.sh SECONDS (docs/SECURITY.md).
import PackageDescription

let package = Package(
    name: "sonic-fuzz",
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzFrameDecoder",
            dependencies: [
                .product(name: "SonicWire", package: "sonic-share"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        )
    ]
)
