// swift-tools-version: 6.1
import PackageDescription

// Layers, bottom to top; nothing imports a layer above it:
// CXenStore (C shim) → XenStore → PCIStoreSchema → PCIStore → pcistore-cli;
// CXenCtrl (C shim, Xen's quarantine) is used by PCIStore only.
let package = Package(
    name: "pcistore",
    products: [
        .library(name: "XenStore", targets: ["XenStore"]),
        .library(name: "PCIStoreSchema", targets: ["PCIStoreSchema"]),
        .library(name: "PCIStore", targets: ["PCIStore"]),
        .executable(name: "pcistore", targets: ["pcistore-cli"]),
        .executable(name: "xenstore-bench", targets: ["XenStoreBench"]),
        .executable(name: "pci-bench", targets: ["PCIBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Graceful shutdown (SIGINT/SIGTERM) for the long-running commands.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CXenStore",
            pkgConfig: "xenstore",
            providers: [.apt(["libxen-dev"])]
        ),
        // Xen itself (libxenctrl), for device quarantine only; used by
        // PCIStore's `Hypervisor`, the one file that calls xc_*.
        .systemLibrary(
            name: "CXenCtrl",
            pkgConfig: "xencontrol",
            providers: [.apt(["libxen-dev"])]
        ),
        .target(name: "XenStore", dependencies: ["CXenStore"]),
        .target(name: "PCIStoreSchema", dependencies: ["XenStore"]),
        .target(name: "PCIStore", dependencies: ["PCIStoreSchema", "XenStore", "CXenCtrl"]),
        .executableTarget(
            name: "pcistore-cli",
            dependencies: [
                "PCIStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "XenStoreBench",
            dependencies: ["XenStore"],
            path: "Benchmarks/XenStoreBench"
        ),
        // Starts the real xenstored (scripts/xenstored) and hands out fixtures
        // for both backends; shared by every test target.
        .target(name: "XenStoreTestSupport", dependencies: ["XenStore"], path: "Tests/Support"),
        // A sysfs tree of plain files and a stand-in for the kernel's driver
        // core over it, so seize/rebind/reset are tested without real devices.
        .target(name: "PCITestSupport", dependencies: ["PCIStore", "XenStoreTestSupport"], path: "Tests/PCISupport"),
        .executableTarget(name: "fake-pci-kernel", path: "Tests/FakeKernel"),
        .executableTarget(
            name: "PCIBench",
            dependencies: ["PCIStore"],
            path: "Benchmarks/PCIBench"
        ),
        .testTarget(name: "XenStoreTests", dependencies: ["XenStore", "XenStoreTestSupport"]),
        .testTarget(name: "PCIStoreSchemaTests", dependencies: ["PCIStoreSchema", "XenStoreTestSupport"]),
        .testTarget(name: "PCIStoreTests", dependencies: ["PCIStore", "XenStoreTestSupport", "PCITestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["XenStore", "XenStoreTestSupport", "PCITestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
