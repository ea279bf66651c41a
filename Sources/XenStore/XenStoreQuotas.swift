/// The limits cxenstored puts on unprivileged domains (dom0 is exempt).
///
/// The defaults are xenstored 4.17's; a hardware domain that is not dom0 lives
/// under them, so the embedded engine enforces the same numbers.
public struct XenStoreQuotas: Sendable, Hashable {
    /// Nodes a domain may own (`-E`, `quota_nb_entry_per_domain`).
    public var entriesPerDomain: Int
    /// Bytes of one stored node: 24-byte header, 8 per permission, value, child names (`-S`).
    public var entrySize: Int
    /// Watches per domain (`-W`); cxenstored refuses the registration past it with `E2BIG`.
    public var watchesPerDomain: Int
    /// Open transactions per connection (`-t`).
    public var transactionsPerDomain: Int
    /// Permission entries per node (`-A`).
    public var permissionsPerNode: Int
    /// Distinct nodes one transaction may touch (`-Q transaction-nodes`).
    public var nodesPerTransaction: Int
    /// Longest path, counted after `/local/domain/<id>/` when present (`-M`).
    public var pathLength: Int

    public init(entriesPerDomain: Int = 1000, entrySize: Int = 2048, watchesPerDomain: Int = 128,
                transactionsPerDomain: Int = 10, permissionsPerNode: Int = 5,
                nodesPerTransaction: Int = 1024, pathLength: Int = XenStoreLimits.relativePathMax) {
        self.entriesPerDomain = entriesPerDomain
        self.entrySize = entrySize
        self.watchesPerDomain = watchesPerDomain
        self.transactionsPerDomain = transactionsPerDomain
        self.permissionsPerNode = permissionsPerNode
        self.nodesPerTransaction = nodesPerTransaction
        self.pathLength = pathLength
    }

    /// xenstored 4.17's defaults.
    public static let cxenstored = XenStoreQuotas()
}
