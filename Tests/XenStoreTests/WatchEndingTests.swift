import Foundation
import Testing
import XenStore
import XenStoreTestSupport

/// A watch ends by itself when its events can no longer be trusted: the
/// reader fell `queueLimit` events behind, or the store went away. It never
/// waits forever for events that cannot come.
@Suite struct WatchEndingTests {
    /// Waits until `condition` holds or `seconds` passed (waiting only).
    func eventually(seconds: Double = 20, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() && Date() < deadline { try? await Task.sleep(nanoseconds: 2_000_000) }
        return condition()
    }

    @Test(arguments: Backend.allCases)
    func aReaderThatFallsBehindOverflowsTheWatch(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        let q = try f.path("q")
        try c.mkdir(q)
        #expect(try c.watch(q).queueLimit == XenStoreWatch.defaultQueueLimit)
        let watch = try c.watch(q, queueLimit: 4)
        #expect(watch.queueLimit == 4)
        // Nobody reads while 20 events come.
        for i in 0..<20 { try c.write(f.path("q/n\(i)"), "\(i)") }
        #expect(await eventually { watch.overflowed })
        // The oldest four stay (the registration, n0, n1, n2); then the end.
        var got: [String] = []
        for await e in watch { got.append(e.path.rawValue) }
        #expect(got == [q.rawValue] + (0..<3).map { q.rawValue + "/n\($0)" })
        // Only that watch ended: the connection watches and hears as before.
        let again = WatchRecorder(try c.watch(q))
        try c.write(f.path("q/after"), "1")
        #expect(await again.wait(for: 2).last?.path == (try f.path("q/after")))
        #expect(!again.ended)
    }

    /// A reader that keeps up never overflows, however many events pass.
    @Test(arguments: Backend.allCases)
    func aReaderThatKeepsUpNeverOverflows(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        let q = try f.path("steady")
        try c.mkdir(q)
        let watch = try c.watch(q, queueLimit: 2)
        var it = watch.makeAsyncIterator()
        #expect(await it.next()?.path == q)
        for i in 0..<50 {
            try c.write(f.path("steady/n"), "\(i)")
            #expect(await it.next()?.path == (try f.path("steady/n")))
        }
        #expect(!watch.overflowed)
    }

    /// libxenstore alone leaves a watch waiting forever when the daemon dies
    /// (its reader closes the socket and tells nobody). The connection looks
    /// after a quiet second, ends every watch, and fails later calls.
    @Test func aWatchEndsWhenTheDaemonDies() async throws {
        let daemon = try RealXenStored.start()
        let c = try daemon.connect()
        try c.write("/x", "1")
        let one = WatchRecorder(try c.watch("/x"))
        let two = WatchRecorder(try c.watch("/y"))
        #expect(await one.wait(for: 1).count == 1)
        #expect(await two.wait(for: 1).count == 1)
        daemon.stop()
        // Nobody sends a request: the end comes from the connection's own look.
        #expect(await one.waitForEnd())
        #expect(await two.waitForEnd())
        do {
            _ = try c.read("/x")
            Issue.record("read on a connection to a dead daemon")
        } catch {
            #expect(error.code == .unreachable, "\(error)")
        }
        do {
            _ = try c.watch("/x")
            Issue.record("watch on a connection to a dead daemon")
        } catch {
            #expect(error.code == .unreachable, "\(error)")
        }
        c.close()
    }

    /// A request that finds the store gone ends the watches at once, without
    /// waiting for the connection's next look.
    @Test func aFailedRequestEndsTheWatches() async throws {
        let served = try ServedEngine.start()
        let c = try served.connect()
        let rec = WatchRecorder(try c.watch("/x"))
        #expect(await rec.wait(for: 1).count == 1)
        await served.stop()
        // Until libxenstore has read the hang-up, a request may still be sent.
        var failure: XenStoreError?
        let deadline = Date().addingTimeInterval(20)
        while failure == nil && Date() < deadline {
            do { _ = try c.read("/") } catch { failure = error }
        }
        #expect(failure?.code == .unreachable, "\(String(describing: failure))")
        #expect(await rec.waitForEnd())
    }

    /// The look after a quiet second leaves a live connection alone.
    @Test func anIdleWatchOnALiveDaemonLastsPastTheLivenessCheck() async throws {
        let f = try Backend.xenstored.fixture()
        let c = try f.connect()
        let rec = WatchRecorder(try c.watch(f.path("idle")))
        #expect(await rec.wait(for: 1).count == 1)
        try await Task.sleep(for: LibXenStoreConnection.livenessInterval * 3)
        try c.write(f.path("idle"), "1")
        #expect(await rec.wait(for: 2).count == 2)
        #expect(!rec.ended)
    }
}
