import PCIStoreSchema

/// One write to sysfs that changes a device's binding, as planned (so
/// `--dry-run` prints exactly the steps a real run performs) and as done.
public enum BusStep: Sendable, Hashable, CustomStringConvertible {
    case unbind(SBDF, from: DriverName)
    case override(SBDF, DriverName?)
    case probe(SBDF, expecting: DriverName)
    case bind(SBDF, to: DriverName)
    case reset(SBDF)

    public var description: String {
        switch self {
        case .unbind(let a, let d): "sysfs: write bus/pci/drivers/\(d)/unbind = \(a)"
        case .override(let a, let d): "sysfs: write bus/pci/devices/\(a)/driver_override = \(d?.rawValue ?? "(clear)")"
        case .probe(let a, let d): "sysfs: write bus/pci/drivers_probe = \(a) (expect \(d))"
        case .bind(let a, let d): "sysfs: write bus/pci/drivers/\(d)/bind = \(a)"
        case .reset(let a): "sysfs: write bus/pci/devices/\(a)/reset = 1"
        }
    }

    func perform(_ s: Sysfs) throws(SysfsError) {
        switch self {
        case .unbind(let a, let d): try s.unbind(a, from: d)
        case .override(let a, let d): try s.setOverride(a, d)
        case .probe(let a, let d): try s.probe(a, expecting: d)
        case .bind(let a, let d): try s.bind(a, to: d)
        case .reset(let a): _ = try s.reset(a)
        }
    }

    /// Take the device from whatever holds it and give it to `stub`.
    static func seize(_ a: SBDF, current: DriverName?, stub: DriverName) -> [BusStep] {
        if current == stub { return [] }
        return (current.map { [.unbind(a, from: $0)] } ?? []) + [.override(a, stub), .probe(a, expecting: stub)]
    }

    /// Take it from the stub and give it back to `original` (or leave it unbound).
    static func giveBack(_ a: SBDF, current: DriverName?, original: DriverName?) -> [BusStep] {
        if let original, current == original { return [.override(a, nil)] }
        var steps: [BusStep] = []
        if let current { steps.append(.unbind(a, from: current)) }
        steps.append(.override(a, nil))
        if let original { steps.append(.bind(a, to: original)) }
        return steps
    }
}
