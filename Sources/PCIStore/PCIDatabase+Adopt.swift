import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// Where libxl keeps what it knows of the devices `xl` made assignable:
    /// `/libxl/pci/DDDD-BB-SS-F/{driver_path,name,domid}`.
    public static let libxlPCI: XenStorePath = "/libxl/pci"

    /// What libxl recorded for one device. Anything it holds that does not
    /// parse is kept as a problem to report, never trusted and never fatal.
    struct LibxlDevice {
        var driver: DriverName?
        var name: DeviceName?
        var domain: DomID?
        var problems: [String] = []
        var isEmpty: Bool { driver == nil && name == nil && domain == nil }
    }

    /// `adopt`: takes over a host that `xl` already manages, touching
    /// nothing on the bus. A device is xl's when pciback holds it (that is
    /// what `xl pci-assignable-list` lists); it is recorded assignable, held
    /// by pciback, with the driver libxl saved to give it back to, libxl's
    /// name for it, and as assigned when libxl records an owner. libxl's
    /// entry alone is not enough: `xl pci-assignable-remove` leaves an empty
    /// `/libxl/pci/<BDF>` behind. Devices already recorded the same way are
    /// left alone; ones recorded otherwise are reported and not changed.
    public func adopt(sysfs: Sysfs, dryRun: Bool = false) throws -> Report {
        let held = sysfs.bound(to: .pciback)
        let slots = Set(sysfs.pcibackSlots())
        let bus: [SBDF]
        do { bus = try sysfs.devices() } catch { throw PCIStoreError.sysfs(error, "adopt") }
        let onBus = Set(bus)
        if !dryRun {
            try initialize()
            _ = try recover(sysfs: sysfs)
        }
        var discovered: [SBDF: DeviceRecord] = [:]
        let stamp = actor.stamp("adopt")
        for a in held where onBus.contains(a) { discovered[a] = try self.discovered(a, sysfs, stamp, bus: bus) }
        return try transaction { t in
            var report = Report()
            let libxl = try Self.readLibxl(t.tx, notes: &report.notes)
            for a in held where !onBus.contains(a) {
                report.notes.append("\(a) is bound to pciback but not on the bus (\(sysfs.devicesDirectory)); skipped")
            }
            for a in slots.subtracting(held).sorted() {
                report.notes.append("\(a) is in pciback's slots but not bound to it; not xl's, skipped")
            }
            for (a, entry) in libxl.sorted(by: { $0.key < $1.key }) where !held.contains(a) {
                report.notes.append(entry.isEmpty
                    ? "\(Self.libxlPCI)/\(a.nodeName) is empty (left by xl pci-assignable-remove); ignored"
                    : "\(Self.libxlPCI)/\(a.nodeName) names \(a), which pciback does not hold; ignored")
            }
            for a in held where onBus.contains(a) {
                let entry = libxl[a] ?? LibxlDevice()
                for p in entry.problems { report.notes.append("\(a): \(p)") }
                let old = try t.record(a)
                var r = old ?? discovered[a]!
                switch r.state {
                case .seizing, .returning:
                    report.notes.append("\(a) is busy (\(r.state.rawValue)); not adopted")
                    continue
                case .assignable, .assigned:
                    if r.stub == .pciback && r.domain == entry.domain {
                        report.notes.append("\(a) is already recorded \(r.state.rawValue) with pciback")
                    } else {
                        report.notes.append("\(a) is recorded \(r.state.rawValue) with \(r.stub.map { "\($0)" } ?? "no stub")"
                            + "\(r.domain.map { " for domain \($0)" } ?? "") but xl holds it with pciback"
                            + "\(entry.domain.map { " for domain \($0)" } ?? ""); not changed (`pcistore check` shows it)")
                    }
                    continue
                case .present:
                    break
                }
                // libxl's saved driver wins: sysfs now shows pciback.
                if let d = entry.driver { r.originalDriver = d } else if r.originalDriver == .pciback { r.originalDriver = nil }
                r.stub = .pciback
                r.state = entry.domain == nil ? .assignable : .assigned
                r.domain = entry.domain
                if let n = entry.name {
                    if let holder = try t.holder(of: n), holder != a, (try t.record(holder))?.name == n {
                        report.notes.append("\(a): libxl names it \(n), but \(holder) has that name; recorded without a name")
                    } else {
                        r.name = n
                    }
                }
                r.changed = stamp
                t.stage(r)
                report.devices.append(r)
                report.notes.append("adopted \(a) \(r.state.rawValue)\(r.domain.map { " to domain \($0)" } ?? "")"
                    + ", to give back to \(r.originalDriver.map { "\($0)" } ?? "no driver")\(r.name.map { ", name \($0)" } ?? "")")
            }
            report.add(try t.commit(apply: !dryRun))
            return report
        }
    }

    /// Every entry under `/libxl/pci` that names a device.
    static func readLibxl(_ tx: XenStoreTransaction, notes: inout [String]) throws -> [SBDF: LibxlDevice] {
        guard let names = try tx.directoryIfPresent(libxlPCI) else { return [:] }
        var out: [SBDF: LibxlDevice] = [:]
        for n in names {
            guard let a = try? SBDF(n.rawValue) else {
                notes.append("\(libxlPCI)/\(n) is not a device address; ignored")
                continue
            }
            let dir = try libxlPCI.appending(n)
            func leaf(_ name: String) throws -> String? {
                try tx.readIfPresent(try dir.appending(XenStoreNodeName(name))).map { String(decoding: $0, as: UTF8.self) }
            }
            var e = LibxlDevice()
            if let path = try leaf("driver_path"), !path.isEmpty {
                let base = path.split(separator: "/").last.map(String.init) ?? ""
                do { e.driver = try DriverName(base) } catch { e.problems.append("libxl's driver_path '\(path)' does not name a driver; recorded without one") }
            }
            if let name = try leaf("name"), !name.isEmpty {
                do { e.name = try DeviceName(name) } catch { e.problems.append("libxl's name '\(name)' is not a valid name (\(error)); recorded without one") }
            }
            if let d = try leaf("domid"), !d.isEmpty {
                if let id = try? DomID(d), id != .dom0 { e.domain = id } else { e.problems.append("libxl's domid '\(d)' is not a guest domain; recorded as unassigned") }
            }
            out[a] = e
        }
        return out
    }
}
