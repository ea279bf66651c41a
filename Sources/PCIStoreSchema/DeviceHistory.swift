import XenStore

/// A device's last changes, oldest first, at most `capacity`: what each did
/// (the operation and the state and owner it left), who (domain, tool) and
/// when.
///
/// Node `history`, one value so the history costs one node per device
/// whatever its length (the node budget of a non-dom0 writer is what limits
/// the layout, not bytes): entries separated by spaces, each
/// `AT/BY/TOOL/OP/STATE/DOMAIN`, e.g.
/// `2026-11-25T20:00:00Z/0/pcistore/discover/present/none 2026-11-25T20:05:00Z/0/pcistore/assign/assigned/5`.
/// At most 8 entries of at most 109 bytes (879 with the spaces): well inside
/// the 2048 bytes a domain may write.
public struct DeviceHistory: Hashable, Sendable {
    public static let capacity = 8

    public struct Entry: Hashable, Sendable {
        public var stamp: ChangeStamp
        public var state: DeviceState
        public var domain: DomID?

        public init(stamp: ChangeStamp, state: DeviceState, domain: DomID?) {
            self.stamp = stamp
            self.state = state
            self.domain = domain
        }

        var encoded: String {
            [ChangeStamp.rfc3339(stamp.time), String(stamp.domain), stamp.tool, stamp.operation, state.rawValue,
             domain.map(\.description) ?? "none"].joined(separator: "/")
        }
    }

    public private(set) var entries: [Entry]

    public init(_ entries: [Entry] = []) {
        self.entries = Array(entries.suffix(Self.capacity))
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// With `entry` as the newest; the oldest falls off past `capacity`. The
    /// same stamp twice is one change (a restore replays what it recorded).
    public func appending(_ entry: Entry) -> DeviceHistory {
        if entries.last?.stamp == entry.stamp { return self }
        return DeviceHistory(entries + [entry])
    }

    public var encoded: String { entries.map(\.encoded).joined(separator: " ") }

    public init(decoding text: String, at path: String) throws(SchemaViolation) {
        var out: [Entry] = []
        for (i, item) in text.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            let f = item.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let which = "entry \(i + 1) '\(Text.printable(String(item)))'"
            guard f.count == 6 else { throw SchemaViolation(path: path, "\(which) is not AT/BY/TOOL/OP/STATE/DOMAIN") }
            let stamp: ChangeStamp
            do {
                stamp = try ChangeStamp(decoding: "at=\(f[0]) by=\(f[1]) tool=\(f[2]) op=\(f[3])", at: path)
            } catch {
                throw SchemaViolation(path: path, "\(which): \(error.problem)")
            }
            guard let state = DeviceState(rawValue: f[4]) else { throw SchemaViolation(path: path, "\(which): '\(Text.printable(f[4]))' is not a state") }
            var domain: DomID? = nil
            if f[5] != "none" {
                guard let d = try? DomID(f[5]) else { throw SchemaViolation(path: path, "\(which): '\(Text.printable(f[5]))' is not a domain id or none") }
                domain = d
            }
            out.append(Entry(stamp: stamp, state: state, domain: domain))
        }
        guard out.count <= Self.capacity else { throw SchemaViolation(path: path, "\(out.count) entries; at most \(Self.capacity)") }
        entries = out
    }
}
