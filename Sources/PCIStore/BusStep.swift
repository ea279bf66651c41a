import PCIStoreSchema

/// One write to sysfs (or one call to Xen) that changes a device's binding,
/// as planned (so `--dry-run` prints exactly the steps a real run performs)
/// and as done.
public enum BusStep: Sendable, Hashable, CustomStringConvertible {
    case unbind(SBDF, from: DriverName)
    case override(SBDF, DriverName?)
    case probe(SBDF, expecting: DriverName)
    case bind(SBDF, to: DriverName)
    case reset(SBDF)
    /// Xen: the device goes to DomIO while it waits (xl's quarantine).
    case quarantine(SBDF)
    /// Xen: back to dom0 before its driver gets it again.
    case endQuarantine(SBDF)

    public var description: String {
        switch self {
        case .unbind(let a, let d): "sysfs: write bus/pci/drivers/\(d)/unbind = \(a)"
        case .override(let a, let d): "sysfs: write bus/pci/devices/\(a)/driver_override = \(d?.rawValue ?? "(clear)")"
        case .probe(let a, let d): "sysfs: write bus/pci/drivers_probe = \(a) (expect \(d))"
        case .bind(let a, let d): "sysfs: write bus/pci/drivers/\(d)/bind = \(a)"
        case .reset(let a): "sysfs: write bus/pci/devices/\(a)/reset = 1"
        case .quarantine(let a): "xen: assign \(a) to DomIO (quarantine)"
        case .endQuarantine(let a): "xen: deassign \(a) from DomIO (end of quarantine)"
        }
    }

    func perform(_ s: Sysfs) throws(SysfsError) {
        switch self {
        case .unbind(let a, let d): try s.unbind(a, from: d)
        case .override(let a, let d): try s.setOverride(a, d)
        case .probe(let a, let d): try s.probe(a, expecting: d)
        case .bind(let a, let d): try s.bind(a, to: d)
        case .reset(let a): _ = try s.reset(a)
        case .quarantine(let a): try s.hypervisor?.quarantine(a)
        case .endQuarantine(let a): try s.hypervisor?.endQuarantine(a)
        }
    }

    /// Take the device from whatever holds it and give it to `stub`; on Xen,
    /// then quarantine it, in libxl's order.
    static func seize(_ a: SBDF, current: DriverName?, stub: DriverName, xen: Bool = false) -> [BusStep] {
        let quarantine: [BusStep] = xen ? [.quarantine(a)] : []
        if current == stub { return quarantine }
        return (current.map { [.unbind(a, from: $0)] } ?? []) + [.override(a, stub), .probe(a, expecting: stub)] + quarantine
    }

    /// Take it from the stub and give it back to `original` (or leave it
    /// unbound); on Xen, out of quarantine first, as libxl does.
    static func giveBack(_ a: SBDF, current: DriverName?, original: DriverName?, xen: Bool = false) -> [BusStep] {
        let end: [BusStep] = xen ? [.endQuarantine(a)] : []
        if let original, current == original { return end + [.override(a, nil)] }
        var steps: [BusStep] = end
        if let current { steps.append(.unbind(a, from: current)) }
        steps.append(.override(a, nil))
        if let original { steps.append(.bind(a, to: original)) }
        return steps
    }
}
