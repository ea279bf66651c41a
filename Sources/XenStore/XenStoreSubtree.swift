/// One node of a subtree listing.
public struct XenStoreEntry: Hashable, Sendable {
    public let path: XenStorePath
    public let value: [UInt8]
    public let permissions: XenStorePermissions
}

extension XenStoreConnection {
    /// Every node at and below `root`, parents before children, read in one
    /// transaction so the listing is a consistent picture (re-read on conflict).
    public func subtree(_ root: XenStorePath, policy: XenStoreRetryPolicy = .default) throws -> [XenStoreEntry] {
        try transaction(policy: policy) { tx in
            var out: [XenStoreEntry] = []
            var stack = [root]
            while let path = stack.popLast() {
                out.append(XenStoreEntry(path: path, value: try tx.read(path), permissions: try tx.permissions(path)))
                let children = try tx.directory(path)
                for name in children.reversed() { stack.append(try path.appending(name)) }
            }
            return out
        }
    }
}
