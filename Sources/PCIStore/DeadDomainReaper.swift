import Synchronization
import XenStore

/// Gives back the devices of dead domains for as long as it runs: one
/// reconciliation at start-up (owners that died while nobody watched), then
/// one each time the store fires `@releaseDomain`.
///
/// Releases that fire while a reconciliation runs are folded into one more
/// reconciliation after it, since each one looks at every owner anyway. When
/// the store goes away (the watch ends, or a request finds it unreachable),
/// the reaper reconnects through `reconnect` and reconciles again, for it may
/// have missed releases meanwhile. A daemon that dies ends the watch too: the
/// XenStore layer notices it (see `LibXenStoreConnection`).
///
/// `run()` returns when its task is cancelled; a reconciliation under way is
/// finished first (it is one short sequence of transactions and resets).
public struct DeadDomainReaper: Sendable {
    /// Why a reconciliation ran.
    public enum Trigger: String, Sendable {
        case startup
        case releaseDomain = "release-domain"
        case reconnect
    }

    /// What the reaper did, for the caller to print or log.
    public enum Event: Sendable {
        case reconciled(Reconciliation, Trigger)
        /// A reconciliation failed; the reaper carries on and tries again at
        /// the next release.
        case failed(PCIStoreError, Trigger)
        /// The store went away; the reaper is reconnecting.
        case disconnected(PCIStoreError)
    }

    public let database: PCIDatabase
    public let sysfs: Sysfs?
    public let reconnect: (@Sendable () throws -> PCIDatabase)?
    let onEvent: @Sendable (Event) -> Void

    public init(database: PCIDatabase, sysfs: Sysfs?, reconnect: (@Sendable () throws -> PCIDatabase)? = nil,
                onEvent: @escaping @Sendable (Event) -> Void) {
        self.database = database
        self.sysfs = sysfs
        self.reconnect = reconnect
        self.onEvent = onEvent
    }

    /// Runs until the task is cancelled. Throws when the start-up
    /// reconciliation fails for a reason other than a lost store, or when the
    /// store is lost and there is no `reconnect`.
    public func run() async throws {
        var db = database
        var trigger = Trigger.startup
        while !Task.isCancelled {
            guard let lost = try await session(db, trigger) else { return }
            db.store.close()
            onEvent(.disconnected(lost))
            guard let reconnect else { throw lost }
            guard let next = await reconnected(reconnect) else { return }
            db = next
            trigger = .reconnect
        }
    }

    /// One connection's life: watch, reconcile, then reconcile per release
    /// until cancelled (nil) or the store is lost (its error).
    private func session(_ db: PCIDatabase, _ trigger: Trigger) async throws -> PCIStoreError? {
        // Watch first, then reconcile: a domain released in between fires an
        // event after the reconciliation, never a gap.
        let watch: XenStoreWatch
        do throws(XenStoreError) {
            watch = try db.store.watch(.releaseDomain)
        } catch {
            if error.code == .unreachable && trigger != .startup { return PCIStoreError(error) }
            throw PCIStoreError(error)
        }
        defer { watch.cancel() }
        if let lost = try reconcile(db, trigger) { return lost }
        let bell = Doorbell()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var registration = true
                for await _ in watch {
                    // The first event is the watch's registration, which the
                    // reconciliation above already covers.
                    if registration { registration = false; continue }
                    bell.ring(.released)
                }
                if !Task.isCancelled {
                    bell.ring(.lost(PCIStoreError(XenStoreError(.unreachable, .watch, path: watch.path.rawValue,
                                                                   detail: "the watch ended: the store closed the connection"))))
                }
            }
            defer { group.cancelAll() }
            for await _ in bell.rings {
                let (released, lost) = bell.take()
                if let lost { return lost }
                if released, let lost = try reconcile(db, .releaseDomain) { return lost }
            }
            return nil
        }
    }

    /// One reconciliation, told to `onEvent`. A lost store is returned, for
    /// the session to end; any other failure at start-up is thrown, and later
    /// ones are told and borne.
    private func reconcile(_ db: PCIDatabase, _ trigger: Trigger) throws -> PCIStoreError? {
        do {
            onEvent(.reconciled(try db.reconcileDeadOwners(sysfs: sysfs), trigger))
        } catch let e as PCIStoreError where e.store?.code == .unreachable {
            return e
        } catch let e as PCIStoreError where trigger != .startup {
            onEvent(.failed(e, trigger))
        }
        return nil
    }

    /// A new database from `reconnect`, trying again with growing pauses
    /// (0.1 s doubling to 5 s) until it works; nil when cancelled first.
    private func reconnected(_ reconnect: @Sendable () throws -> PCIDatabase) async -> PCIDatabase? {
        var pause = Duration.milliseconds(100)
        while !Task.isCancelled {
            if let db = try? reconnect() { return db }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
        return nil
    }
}

/// Where the watch leaves word for the reaper's loop: what
/// happened is kept in flags, and the bell holds at most one ring, so any
/// number of releases during a reconciliation become one more after it.
private final class Doorbell: Sendable {
    enum Word: Sendable {
        case released
        case lost(PCIStoreError)
    }

    private let state = Mutex<(released: Bool, lost: PCIStoreError?)>((false, nil))
    let rings: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (rings, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func ring(_ word: Word) {
        state.withLock { s in
            switch word {
            case .released: s.released = true
            case .lost(let e): s.lost = s.lost ?? e
            }
        }
        continuation.yield()
    }

    /// What was left since the last look, cleared.
    func take() -> (released: Bool, lost: PCIStoreError?) {
        state.withLock { s in
            defer { s = (false, nil) }
            return s
        }
    }
}
