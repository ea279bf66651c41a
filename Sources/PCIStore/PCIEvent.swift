import PCIStoreSchema
import XenStore

/// What happened to the database, as a daemon wants to hear it: typed, one
/// event per device per committed change, carrying the old and new record.
public enum PCIEvent: Sendable, Equatable {
    /// The first event: every device matching the filter, as committed now.
    case snapshot([DeviceRecord])
    case added(DeviceRecord)
    case removed(DeviceRecord)
    /// The record changed; `aspects` says how (several can hold at once).
    case changed(old: DeviceRecord, new: DeviceRecord, aspects: Set<Aspect>)
    /// The stream may have missed changes and started over: here is a fresh
    /// picture, which has whatever happened meanwhile. It follows a lost
    /// connection (closed, or the daemon died or restarted) and a consumer
    /// that fell more than the stream's buffer behind.
    case resync([DeviceRecord])

    public enum Aspect: String, Sendable, Hashable, CaseIterable, Comparable {
        case state, owner, resources, renamed, other
        public static func < (a: Aspect, b: Aspect) -> Bool { a.rawValue < b.rawValue }
    }

    /// The aspects in which `new` differs from `old`.
    static func aspects(_ old: DeviceRecord, _ new: DeviceRecord) -> Set<Aspect> {
        var out: Set<Aspect> = []
        if old.state != new.state { out.insert(.state) }
        if old.domain != new.domain { out.insert(.owner) }
        if old.resources != new.resources { out.insert(.resources) }
        if old.name != new.name { out.insert(.renamed) }
        var a = old, b = new
        (a.state, a.domain, a.resources, a.name) = (b.state, b.domain, b.resources, b.name)
        if a != b { out.insert(.other) }
        return out
    }
}
