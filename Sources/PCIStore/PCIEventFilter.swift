import PCIStoreSchema
import XenStore

/// Which devices a stream reports.
public struct PCIEventFilter: Sendable {
    public var devices: Set<SBDF>?
    public var domain: DomID?
    public var state: DeviceState?

    public init(devices: Set<SBDF>? = nil, domain: DomID? = nil, state: DeviceState? = nil) {
        self.devices = devices
        self.domain = domain
        self.state = state
    }

    public func matches(_ r: DeviceRecord) -> Bool {
        (devices?.contains(r.address) ?? true) && (domain.map { r.domain == $0 } ?? true)
            && (state.map { r.state == $0 } ?? true)
    }
}
