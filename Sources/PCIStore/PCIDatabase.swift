import PCIStoreSchema
import XenStore
#if canImport(Glibc)
import Glibc
#endif

/// The PCI database in a XenStore: every operation is one transaction (or,
/// for binding work, a short sequence of them around the sysfs steps, with a
/// journal entry in between), retried as a whole on `EAGAIN`.
public struct PCIDatabase: Sendable {
    public let store: any XenStoreConnection
    public var actor: ChangeActor
    public var retry: XenStoreRetryPolicy

    public init(store: any XenStoreConnection, actor: ChangeActor = ChangeActor(), retry: XenStoreRetryPolicy = .default) {
        self.store = store
        self.actor = actor
        self.retry = retry
    }

    /// Runs `body` in a store transaction with the record view; store errors
    /// come out as `PCIStoreError(.store)`.
    func transaction<T>(_ body: (DatabaseTransaction) throws -> T) throws -> T {
        // A XenStore transaction reads each node when it first touches it, so
        // a device another writer is changing meanwhile can look mixed (its
        // state from before, its domain from after) and break a rule, where
        // the commit would have failed EAGAIN. So a record that looks corrupt
        // is read again in a new transaction before it is believed.
        var again = Self.corruptRereads
        while true {
            do {
                return try store.transaction(policy: retry) { tx in try body(DatabaseTransaction(tx)) }
            } catch let e as XenStoreError {
                throw PCIStoreError(e)
            } catch let e as PCIStoreError {
                guard e.kind == .corrupt, again > 0 else { throw e }
                again -= 1
            }
        }
    }

    /// How often a corrupt-looking read is repeated before it is reported.
    static let corruptRereads = 2

    // MARK: - Layout

    /// Creates `/local/pci` (dom0 only) and the schema node when missing;
    /// refuses a tree of another schema version.
    @discardableResult
    public func initialize() throws -> Bool {
        try transaction { t in
            if let v = try t.tx.readIfPresent(PCIStoreLayout.schemaNode) {
                let version = String(decoding: v, as: UTF8.self)
                guard version == PCIStoreLayout.schemaVersion else {
                    throw PCIStoreError.refused("\(PCIStoreLayout.schemaNode) is \"\(XenStoreText.escape(v))\"; this pcistore speaks schema \(PCIStoreLayout.schemaVersion)")
                }
                return false
            }
            try t.tx.mkdir(PCIStoreLayout.root)
            try t.tx.setPermissions(PCIStoreLayout.root, PCIStoreLayout.rootPermissions)
            try t.tx.write(PCIStoreLayout.schemaNode, PCIStoreLayout.schemaVersion)
            try t.tx.mkdir(PCIStoreLayout.devices)
            try t.tx.mkdir(PCIStoreLayout.names)
            try t.tx.mkdir(PCIStoreLayout.pending)
            return true
        }
    }

    // MARK: - Reading

    /// The whole database, with every schema violation found. Never traps on
    /// garbage.
    ///
    /// Each bus is read in a transaction of its own, so every record, and
    /// every slot, is a consistent picture. One transaction for everything
    /// would be too: but cxenstored keeps a transaction's accessed nodes in a
    /// list it searches on every access, so a 50,000-node transaction takes
    /// minutes, and one per bus (at most 256 functions) takes milliseconds.
    ///
    /// The leaves of a device directory hold values, never children, so a
    /// quick read does not ask each of them for a child list (half the
    /// requests); `thorough` does, so `check` also finds junk hung below a leaf.
    public func read(thorough: Bool = false) throws -> DatabaseImage.Reading {
        var entries: [(XenStorePath, String)] = []
        let leafDepth = PCIStoreLayout.devices.components.count + 4
        func walk(_ t: DatabaseTransaction, _ top: XenStorePath, skipping: Set<XenStorePath> = []) throws {
            var stack = [top]
            while let p = stack.popLast() {
                guard let value = try t.tx.readIfPresent(p) else { continue }
                entries.append((p, String(decoding: value, as: UTF8.self)))
                if !thorough && p.components.count == leafDepth && PCIStoreLayout.devices.contains(p) { continue }
                for c in (try t.tx.directoryIfPresent(p) ?? []).reversed() {
                    let child = try p.appending(c)
                    if !skipping.contains(child) { stack.append(child) }
                }
            }
        }
        let buses: [XenStorePath] = try transaction { t in
            guard try t.tx.directoryIfPresent(PCIStoreLayout.root) != nil else { return [] }
            var buses: [XenStorePath] = []
            var segments: Set<XenStorePath> = []
            for seg in try t.tx.directoryIfPresent(PCIStoreLayout.devices) ?? [] {
                let sp = try PCIStoreLayout.devices.appending(seg)
                segments.insert(sp)
                for bus in try t.tx.directoryIfPresent(sp) ?? [] { buses.append(try sp.appending(bus)) }
            }
            // Everything but the buses' contents (and the agents' areas,
            // which are no records: `agentAreas()` reads them), in one small transaction.
            try walk(t, PCIStoreLayout.root, skipping: Set(buses + [AgentLayout.agents]))
            return buses
        }
        for bus in buses {
            try transaction { t in try walk(t, bus) }
        }
        return DatabaseImage.read(entries)
    }

    /// One device's record, or nil when not recorded.
    public func record(_ a: SBDF) throws -> DeviceRecord? {
        try transaction { t in try t.record(a) }
    }

    /// An address as typed (`0000:03:00.0`, `03:00.0`, `0000-03-00-0`) or a
    /// device name, to the address it means.
    public func resolve(_ text: String) throws -> SBDF {
        if let a = try? SBDF(text) { return a }
        guard let name = try? DeviceName(text) else {
            throw PCIStoreError.badInput("'\(text)' is neither a PCI address (0000:03:00.0, 03:00.0) nor a device name")
        }
        guard let a = try transaction({ t in try t.holder(of: name) }) else {
            throw PCIStoreError.badInput("no device is named \(name)")
        }
        return a
    }
}

/// This process, as the journal records it.
enum ProcessIdentity {
    static var current: (pid: Int32, start: UInt64) { (getpid(), startTime(of: getpid()) ?? 0) }

    /// Field 22 of `/proc/PID/stat`: start time in clock ticks since boot.
    static func startTime(of pid: Int32) -> UInt64? {
        guard let text = Sysfs.readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After "pid (comm)", field 3 is fields[0]; field 22 is fields[19].
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// True while the process that wrote `p` still runs.
    static func isAlive(_ p: PendingOperation) -> Bool {
        startTime(of: p.pid) == p.start
    }
}
