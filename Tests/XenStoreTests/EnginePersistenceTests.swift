import Foundation
import Testing
@testable import XenStore
import XenStoreTestSupport

@Suite struct EnginePersistenceTests {
    func temporaryFile() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pcistore-engine-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("store").path
    }

    @Test func survivesReopening() throws {
        let file = temporaryFile()
        do {
            let c = try XenStoreEngine(persistingTo: file).connect()
            try c.write("/local/pci/a", [0, 1, 2, 255, 10, 34, 92])
            try c.setPermissions("/local/pci", XenStorePermissions("n0 r5"))
            try c.introduceDomain(DomID(5))
        }
        let c = try XenStoreEngine(persistingTo: file).connect()
        #expect(try c.read("/local/pci/a") == [0, 1, 2, 255, 10, 34, 92])
        #expect(try c.permissions("/local/pci").description == "n0 r5")
        #expect(try c.directory("/").map(\.rawValue) == ["tool", "local"])
        // dom5 is still known, so it may own nodes.
        try c.setPermissions("/local/pci/a", XenStorePermissions("n5"))
    }

    @Test func snapshotFileIsReadableAndRoundTrips() throws {
        let engine = XenStoreEngine()
        let c = engine.connect()
        try c.write("/local/pci/x", "hello \"world\"\n")
        let text = String(decoding: engine.snapshot(), as: UTF8.self)
        #expect(text.contains("node /local/pci/x n0 "))
        #expect(text.contains("\"hello \\\"world\\\"\\n\""))
        let decoded = try EngineSnapshot(decoding: engine.snapshot())
        #expect(decoded.encoded() == engine.snapshot())
    }

    @Test func twoInstancesOnOneFileSeeEachOther() throws {
        let file = temporaryFile()
        let a = try XenStoreEngine(persistingTo: file).connect()
        let b = try XenStoreEngine(persistingTo: file).connect()
        try a.write("/shared/x", "from a")
        #expect(try b.readString("/shared/x") == "from a")
        try b.write("/shared/y", "from b")
        #expect(try a.directory("/shared").map(\.rawValue) == ["x", "y"])
    }

    @Test func transactionsConflictAcrossInstances() throws {
        let file = temporaryFile()
        let a = try XenStoreEngine(persistingTo: file).connect()
        let b = try XenStoreEngine(persistingTo: file).connect()
        try a.write("/c", "0")
        let t = try a.startTransaction()
        _ = try a.read("/c", transaction: t)
        try b.write("/c", "b")
        try a.write("/c", Array("a".utf8), transaction: t)
        let r = Result { () throws(XenStoreError) in try a.endTransaction(t, commit: true) }
        if case .failure(let e) = r { #expect(e.code == .tryAgain) } else { Issue.record("commit over a newer write") }
        #expect(try a.readString("/c") == "b")
    }

    @Test func anotherInstancesCommitFiresWatchesHere() async throws {
        let file = temporaryFile()
        let a = try XenStoreEngine(persistingTo: file).connect()
        let b = try XenStoreEngine(persistingTo: file).connect()
        try a.mkdir("/w")
        let rec = WatchRecorder(try a.watch("/w"))
        await rec.wait(for: 1)
        try b.write("/w/x", "1")
        _ = try a.exists("/w")  // the next operation here picks the change up
        #expect(await rec.wait(for: 2).map(\.path.rawValue) == ["/w", "/w/x"])
    }

    @Test func anotherInstancesCommitFiresWatchesHereWithoutBeingAsked() async throws {
        let file = temporaryFile()
        let a = try XenStoreEngine(persistingTo: file).connect()
        let b = try XenStoreEngine(persistingTo: file).connect()
        try a.mkdir("/w")
        let rec = WatchRecorder(try a.watch("/w"))
        await rec.wait(for: 1)
        try b.write("/w/y", "1")
        try b.write("/w", "2")
        // Both commits may land in one look at the file; then they fire in path order.
        let got = await rec.wait(for: 3).map(\.path.rawValue)
        #expect(got.count == 3 && got.first == "/w" && Set(got.dropFirst()) == ["/w", "/w/y"])
    }

    /// A process that reaps dead domains on the file store must hear of a
    /// release another process made, as it would from the daemon.
    @Test func anotherInstancesIntroduceAndReleaseFireTheSpecialWatches() async throws {
        let file = temporaryFile()
        let a = try XenStoreEngine(persistingTo: file).connect()
        let b = try XenStoreEngine(persistingTo: file).connect()
        let intro = WatchRecorder(try a.watch(.introduceDomain))
        let release = WatchRecorder(try a.watch(.releaseDomain))
        await intro.wait(for: 1)
        await release.wait(for: 1)
        try b.introduceDomain(DomID(7))
        #expect(await intro.wait(for: 2).map(\.path) == [.introduceDomain, .introduceDomain])
        #expect(try a.isDomainIntroduced(DomID(7)))
        try b.write("/w", "1")
        #expect(await release.settle().count == 1)
        try b.releaseDomain(DomID(7))
        #expect(await release.wait(for: 2).map(\.path) == [.releaseDomain, .releaseDomain])
        #expect(try a.isDomainIntroduced(DomID(7)) == false)
        #expect(intro.received.count == 2)
    }

    @Test(arguments: [
        ("garbage", "not a pcistore XenStore snapshot"),
        ("pcistore-xenstore 1\ngeneration x\n", "line 2: bad generation"),
        ("pcistore-xenstore 1\ngeneration 5\nnode /a n0 1 \"\"\n", "comes before its parent"),
        ("pcistore-xenstore 1\ngeneration 5\nnode / n0 1 \"\"\nnode /a:b n0 2 \"\"\n", "line 4"),
        ("pcistore-xenstore 1\ngeneration 5\nnode / n0 1 \"\\q\"\n", "bad value"),
        ("pcistore-xenstore 1\ngeneration 5\nnode / n0 9 \"\"\n", "below a node's 9"),
        ("pcistore-xenstore 1\ngeneration 5\n", "no root node"),
        ("pcistore-xenstore 1\ngeneration 5\nnode / q0 1 \"\"\n", "line 3"),
    ])
    func corruptFilesAreErrorsNotCrashes(_ content: String, _ message: String) throws {
        let file = temporaryFile()
        try content.write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try XenStoreEngine(persistingTo: file)
            Issue.record("opened a corrupt file")
        } catch {
            #expect(error.code == .ioError)
            #expect(error.description.contains(message), "\(error)")
        }
        // The file is left as it was for a person to look at.
        #expect(try String(contentsOfFile: file, encoding: .utf8) == content)
    }

    @Test func randomBytesNeverCrashTheLoader() throws {
        var rng = SplitMix(state: 99)
        let valid = Array(XenStoreEngine().snapshot())
        for _ in 0..<300 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            _ = try? EngineSnapshot(decoding: bytes)
        }
    }
}
