import PCIStoreSchema
import XenStore

/// Why a database operation did not happen. Each kind has its exit code in
/// the CLI; the message names the device and what to do.
public struct PCIStoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The state or an invariant forbids it (exit 1).
        case refused
        /// Malformed or unknown input: an address, a name, a domain (exit 64).
        case badInput
        /// A node someone else wrote does not follow the schema (exit 1).
        case corrupt
        /// The kernel did not do what was asked; the change was rolled back (exit 1).
        case sysfs
        /// The store failed; `store` holds its error (exit by its code).
        case store
        /// The agent that owns the devices' bus did what was asked and
        /// reported failure; the message carries its reason (exit 1).
        case agentFailed
        /// The agent is not running: its heartbeat stood still, or it said it
        /// stopped (exit 69, like an unreachable store).
        case agentDown
        /// The agent is alive but did not answer in time, or has no free
        /// request slot; trying again later may work (exit 75).
        case agentBusy
    }

    public let kind: Kind
    public let message: String
    public let store: XenStoreError?

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
        store = nil
    }

    public init(_ error: XenStoreError) {
        kind = .store
        message = error.description
        store = error
    }

    public var description: String { message }

    static func refused(_ m: String) -> PCIStoreError { PCIStoreError(.refused, m) }
    static func badInput(_ m: String) -> PCIStoreError { PCIStoreError(.badInput, m) }
    static func corrupt(_ v: SchemaViolation) -> PCIStoreError {
        PCIStoreError(.corrupt, "\(v) (written by someone else? `pcistore check` lists every problem)")
    }
    static func sysfs(_ e: SysfsError, _ context: String) -> PCIStoreError { PCIStoreError(.sysfs, "\(context): \(e)") }
    static func store(_ e: XenStoreError) -> PCIStoreError { PCIStoreError(e) }
}
