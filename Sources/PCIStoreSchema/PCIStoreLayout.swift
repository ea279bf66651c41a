import XenStore

/// Where the PCI database lives in XenStore.
///
/// Only the anchor is fixed so far; the device tree below it is schema v1's
/// (see `schema/`).
public enum PCIStoreLayout {
    /// The database's root, owned by dom0 and unreadable by other domains.
    public static let root: XenStorePath = "/local/pci"
    /// Permissions of `root`: dom0 owns it, nobody else may read.
    public static let rootPermissions = XenStorePermissions(owner: .dom0, others: .none)
}
