/// One node as the engine stores it (the analogue of cxenstored's TDB record).
struct EngineNode: Sendable, Equatable {
    var value: [UInt8]
    var permissions: XenStorePermissions
    /// Child names in creation order, which is the order `DIRECTORY` returns.
    var children: [String]
    /// Global generation of the last write; the transaction conflict check compares it.
    var generation: UInt64

    /// Size cxenstored charges against the entry-size quota:
    /// `xs_tdb_record_hdr` (24 bytes), 8 per permission, the value, NUL-terminated child names.
    var recordSize: Int {
        24 + 8 * (1 + permissions.entries.count) + value.count
            + children.reduce(0) { $0 + $1.utf8.count + 1 }
    }
}
