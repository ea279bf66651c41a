import PCIStoreSchema
import XenStore
#if canImport(Glibc)
import Glibc
#endif

/// One XenStore write an operation makes (or, with `--dry-run`, would make).
public enum Change: Hashable, Sendable, CustomStringConvertible {
    case write(XenStorePath, String)
    case remove(XenStorePath)

    public var description: String {
        switch self {
        case .write(let p, let v): "write \(p) = \"\(XenStoreText.escape(Array(v.utf8)))\""
        case .remove(let p): "rm \(p)"
        }
    }

    /// The node writes that turn `old` into `new` (either may be nil), name
    /// index included, leaves in schema order.
    static func diff(_ old: DeviceRecord?, _ new: DeviceRecord?) -> [Change] {
        guard let new else {
            guard let old else { return [] }
            var out: [Change] = [.remove(PCIStoreLayout.device(old.address))]
            if let n = old.name { out.append(.remove(PCIStoreLayout.name(n))) }
            return out
        }
        let before = Dictionary(uniqueKeysWithValues: (old?.nodes ?? []).map { ($0.0.rawValue, $0.1) })
        var out: [Change] = []
        var kept: Set<String> = []
        for (leaf, value) in new.nodes {
            kept.insert(leaf.rawValue)
            if before[leaf.rawValue] != value { out.append(.write(PCIStoreLayout.node(new.address, leaf), value)) }
        }
        for leaf in before.keys.sorted() where !kept.contains(leaf) {
            out.append(.remove(PCIStoreLayout.node(new.address, XenStoreNodeName(stringLiteral: leaf))))
        }
        if old?.name != new.name {
            if let n = old?.name { out.append(.remove(PCIStoreLayout.name(n))) }
            if let n = new.name { out.append(.write(PCIStoreLayout.name(n), new.address.nodeName.rawValue)) }
        }
        return out
    }
}

/// What an operation did, or would do: the XenStore changes and the sysfs
/// actions, in order, plus notes for the admin.
public struct Report: Sendable {
    public private(set) var changes: [Change] = []
    public private(set) var actions: [String] = []
    /// Changes and actions together, in the order they happen: what
    /// `--dry-run` prints.
    public private(set) var steps: [String] = []
    public var notes: [String] = []
    public var devices: [DeviceRecord] = []
    public init() {}

    mutating func add(_ c: [Change]) {
        changes += c
        steps += c.map { "xenstore: \($0)" }
    }

    mutating func add(actions a: [String]) {
        actions += a
        steps += a
    }

    /// Another operation's report after this one's, its order kept.
    public mutating func append(_ other: Report) {
        changes += other.changes
        actions += other.actions
        steps += other.steps
        notes += other.notes
        devices += other.devices
    }
}

/// Who makes changes, stamped on every device they touch.
public struct ChangeActor: Sendable {
    public var domain: DomID
    public var tool: String
    public var now: @Sendable () -> Int64

    public init(domain: DomID = .dom0, tool: String = "pcistore", now: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) {
        self.domain = domain
        self.tool = tool
        self.now = now
    }

    public func stamp(_ operation: String) -> ChangeStamp {
        ChangeStamp(time: now(), domain: domain.rawValue, tool: tool, operation: operation)
    }
}
