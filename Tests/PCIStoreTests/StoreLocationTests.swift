import Foundation
import Testing
import PCIStore
import XenStore
import XenStoreTestSupport

@Suite struct StoreLocationTests {
    @Test func parsing() throws {
        #expect(try StoreLocation("xenstore") == .xenstore)
        #expect(try StoreLocation("file:/tmp/s") == .file("/tmp/s"))
        #expect(try StoreLocation("auto") == .automatic)
        for bad in ["", "file:", "xen", "tcp:1"] {
            #expect(throws: XenStoreError.self) { try StoreLocation(bad) }
        }
    }

    @Test func optionBeatsEnvironmentBeatsDefault() throws {
        let env = ["PCISTORE_STORE": "file:/from/env"]
        #expect(try StoreLocation.resolve(option: "xenstore", environment: env) == .xenstore)
        #expect(try StoreLocation.resolve(option: nil, environment: env) == .file("/from/env"))
        #expect(try StoreLocation.resolve(option: nil, environment: [:]) == .automatic)
    }

    @Test func defaultFileFollowsXDG() {
        #expect(StoreLocation.defaultFile(environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]) == "/s/pcistore/store")
        #expect(StoreLocation.defaultFile(environment: ["HOME": "/h"]) == "/h/.local/state/pcistore/store")
        #expect(StoreLocation.defaultFile(environment: [:]) == "/var/lib/pcistore/store")
    }

    @Test func automaticUsesTheDaemonWhenOneAnswers() throws {
        let daemon = try RealXenStored.shared()
        let opened = try StoreLocation.automatic.open(environment: ["XENSTORED_PATH": daemon.socketPath])
        #expect(opened.location == .xenstore)
        #expect(opened.fallbackNotice == nil)
        #expect(try opened.connection.exists("/tool/xenstored"))
    }

    @Test func automaticFallsBackToTheEmbeddedFileAndSaysSo() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("pcistore-state-\(UUID().uuidString)").path
        let env = ["XENSTORED_PATH": "/nonexistent/socket", "XDG_STATE_HOME": state]
        let opened = try StoreLocation.automatic.open(environment: env)
        #expect(opened.location == .file(state + "/pcistore/store"))
        #expect(opened.fallbackNotice?.contains("no XenStore daemon reachable") == true)
        try opened.connection.write("/local/pci/x", "1")
        #expect(FileManager.default.fileExists(atPath: state + "/pcistore/store"))
    }

    @Test func explicitXenstoreWithoutADaemonIsUnreachable() {
        do {
            _ = try StoreLocation.xenstore.open(environment: ["XENSTORED_PATH": "/nonexistent/socket"])
            Issue.record("opened")
        } catch {
            #expect(error.code == .unreachable)
        }
    }
}
