import Foundation
import PCIStore
import PCIStoreSchema
import XenStoreTestSupport
import Synchronization

/// Consumes a PCI event stream in the background, keeping what arrived.
public final class EventRecorder: Sendable {
    private final class Box: Sendable {
        let events = Mutex<[PCIEvent]>([])
        let failure = Mutex<String?>(nil)
    }
    private let box = Box()
    private let task: Task<Void, Never>

    public init(_ stream: PCIEventStream) {
        let box = self.box
        // Off the shared pool, so a test that blocks a pool thread cannot
        // starve the recorder past another test's deadline.
        task = Task(executorPreference: WatcherExecutor.next()) {
            do {
                for try await e in stream { box.events.withLock { $0.append(e) } }
            } catch {
                box.failure.withLock { $0 = "\(error)" }
            }
        }
    }

    deinit { task.cancel() }

    public var received: [PCIEvent] { box.events.withLock { $0 } }
    public var failure: String? { box.failure.withLock { $0 } }

    /// The database as the events so far describe it: the last snapshot or
    /// resync, with every later event applied. For an unfiltered stream that
    /// has caught up, this is what the store holds.
    public var view: [SBDF: DeviceRecord] { Self.fold(received) }

    public static func fold(_ events: [PCIEvent]) -> [SBDF: DeviceRecord] {
        var view: [SBDF: DeviceRecord] = [:]
        for e in events {
            switch e {
            case .snapshot(let rows), .resync(let rows):
                view = Dictionary(uniqueKeysWithValues: rows.map { ($0.address, $0) })
            case .added(let r), .changed(_, let r, _): view[r.address] = r
            case .removed(let r): view[r.address] = nil
            }
        }
        return view
    }

    /// Waits until the view equals `expected()` (asked again each time), or
    /// `seconds` passed; returns whether it does.
    public func wait(untilViewIs expected: () throws -> [SBDF: DeviceRecord], seconds: Double = 20) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while try view != expected() && Date() < deadline { try? await Task.sleep(nanoseconds: 2_000_000) }
        return try view == expected()
    }

    @discardableResult
    public func wait(for count: Int, seconds: Double = 20) async -> [PCIEvent] {
        let deadline = Date().addingTimeInterval(seconds)
        while received.count < count && Date() < deadline { try? await Task.sleep(nanoseconds: 2_000_000) }
        return received
    }

    /// Waits until `done` holds for what arrived, or `seconds` passed.
    @discardableResult
    public func wait(until done: ([PCIEvent]) -> Bool, seconds: Double = 20) async -> [PCIEvent] {
        let deadline = Date().addingTimeInterval(seconds)
        while !done(received) && Date() < deadline { try? await Task.sleep(nanoseconds: 2_000_000) }
        return received
    }

    /// Lets in-flight events land, for asserting that nothing more arrives.
    public func settle(seconds: Double = 0.3) async -> [PCIEvent] {
        try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
        return received
    }
}
