// swift-tools-version:5.4
import Foundation
import PackageDescription

// libFuzzer target for the wire protocol, kept out of the main package so
// its sanitizer flags never touch the normal build. Built and run by
// run.sh: swift build -c release -Xswiftc -sanitize=fuzzer,address
// -Xswiftc -parse-as-library.
//
// Tools version 5.4 on purpose: from 5.5 on, SwiftPM links an executable
// with main renamed to WireFuzz_main (for testable executables), and the
// link then fails, since main is libFuzzer's.
//
// A path dependency's identity is its directory's name, which differs
// between checkouts (main, a worktree, CI's clone): read it here.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "pcistore-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "WireFuzz",
            dependencies: [.product(name: "XenStore", package: parent)]
        ),
    ]
)
