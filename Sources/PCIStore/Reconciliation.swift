import PCIStoreSchema
import XenStore

/// What `reconcileDeadOwners` found and did (or, dry, would do): every owner
/// in the database sorted into live and gone, and the releases of the gone.
public struct Reconciliation: Sendable {
    /// A gone owner whose devices could not be released; the other owners
    /// went ahead regardless.
    public struct Failure: Sendable, CustomStringConvertible {
        public let domain: DomID
        public let error: PCIStoreError
        public var description: String { "domain \(domain): \(error.message)" }
    }

    /// Owners the store knows: their devices stay.
    public var live: [DomID] = []
    /// Owners the store does not know (released, or never introduced): their
    /// devices were released.
    public var gone: [DomID] = []
    /// Owners introduced again between the first look and the release: their
    /// devices stay theirs.
    public var cameBack: [DomID] = []
    public var failures: [Failure] = []
    /// The releases one after another: resets and writes in order, warnings,
    /// and the released devices as they now are.
    public var report = Report()

    public init() {}

    /// Devices released (dry run: that would be).
    public var released: [DeviceRecord] { report.devices }
}
