/// What a domain may do with a node: nothing, read, write or both.
public enum XenStoreAccess: Character, Sendable, Hashable, CaseIterable {
    case none = "n", read = "r", write = "w", both = "b"

    public var canRead: Bool { self == .read || self == .both }
    public var canWrite: Bool { self == .write || self == .both }
}

/// A node's permission list as XenStore keeps it.
///
/// The first entry is special: its domain *owns* the node (full access) and its
/// access letter is what every domain not listed gets. Later entries grant one
/// domain an access. Text form is the tools' one, e.g. `n0 r5 b7`.
public struct XenStorePermissions: Hashable, Sendable, CustomStringConvertible {
    public struct Entry: Hashable, Sendable {
        public var domain: DomID
        public var access: XenStoreAccess
        public init(_ domain: DomID, _ access: XenStoreAccess) {
            self.domain = domain
            self.access = access
        }
        public var text: String { "\(access.rawValue)\(domain.rawValue)" }
    }

    public var owner: DomID
    /// Access for domains that have no entry of their own.
    public var others: XenStoreAccess
    public var entries: [Entry]

    public init(owner: DomID, others: XenStoreAccess = .none, entries: [Entry] = []) {
        self.owner = owner
        self.others = others
        self.entries = entries
    }

    /// What the root node starts with in cxenstored: dom0 owns it, others get nothing.
    public static let dom0Only = XenStorePermissions(owner: .dom0)

    /// Parses the tools' form, one entry per element (`["n0", "r5"]`).
    public init(strings: [String]) throws(XenStoreError) {
        guard let first = strings.first else {
            throw XenStoreError(.invalidArgument, .parse, detail: "a permission list needs an owner entry")
        }
        let head = try Self.parseEntry(first)
        owner = head.domain
        others = head.access
        var list: [Entry] = []
        for s in strings.dropFirst() { list.append(try Self.parseEntry(s)) }
        entries = list
    }

    /// Parses `"n0 r5 b7"` (space separated).
    public init(_ text: String) throws(XenStoreError) {
        try self.init(strings: text.split(separator: " ").map(String.init))
    }

    static func parseEntry(_ s: String) throws(XenStoreError) -> Entry {
        guard let letter = s.first, let access = XenStoreAccess(rawValue: letter) else {
            throw XenStoreError(.invalidArgument, .parse, path: s,
                                detail: "a permission is one of n, r, w, b followed by a domain id")
        }
        return Entry(try DomID(String(s.dropFirst())), access)
    }

    public var strings: [String] { [Entry(owner, others).text] + entries.map(\.text) }
    public var description: String { strings.joined(separator: " ") }

    /// The access `domain` has, following cxenstored's `perm_for_conn`:
    /// dom0 and the owner get everything, then the first matching entry, then `others`.
    public func access(for domain: DomID) -> XenStoreAccess {
        if domain == .dom0 || domain == owner { return .both }
        return entries.first(where: { $0.domain == domain })?.access ?? others
    }
}
