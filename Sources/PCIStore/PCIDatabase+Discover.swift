import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// Reads the bus from sysfs and records or refreshes every function, in
    /// one transaction: identity and topology always; resources unless the
    /// device is assigned (those are frozen at assignment); the bound driver of
    /// a `present` device. A `present` device gone from the bus is removed; any
    /// other is kept and reported, since a guest or the pool still holds it.
    /// Buses a registered agent claims are left out: their devices are the
    /// agent's to publish (`importDiscovery`).
    public func discover(sysfs: Sysfs, dryRun: Bool = false) throws -> Report {
        try initializeUnlessDryRun(dryRun)
        if !dryRun { _ = try recover(sysfs: sysfs) }
        let found: [SBDF]
        var described: [SBDF: (PCIIdentity, PCITopology, PCIResources, DriverName?)] = [:]
        do throws(SysfsError) {
            found = try sysfs.devices()
            for a in found {
                let (i, t, r) = try sysfs.describe(a, among: found)
                described[a] = (i, t, r, sysfs.driver(of: a))
            }
        } catch {
            throw PCIStoreError.sysfs(error, "discovery")
        }
        return try transaction { t in
            var report = Report()
            let stamp = actor.stamp("discover")
            let claims = try Self.agents(t.tx).values.map(\.claim)
            func claimed(_ a: SBDF) -> Bool { claims.contains { $0.covers(a) } }
            for a in found where !claimed(a) {
                let (identity, topology, resources, driver) = described[a]!
                if var r = try t.record(a) {
                    let before = r
                    r.identity = identity
                    r.topology = topology
                    if r.state != .assigned { r.resources = resources }
                    if r.state == .present && r.stub == nil { r.originalDriver = driver }
                    if r != before {
                        r.changed = stamp
                        t.stage(r)
                        report.notes.append("refreshed \(a)")
                    }
                } else {
                    t.stage(DeviceRecord(address: a, identity: identity, topology: topology, resources: resources,
                                         originalDriver: driver, changed: stamp))
                    report.notes.append("found \(a) \(driver.map { "(\($0))" } ?? "(no driver)")")
                }
            }
            let present = Set(found)
            for a in try t.allAddresses() where !present.contains(a) && !claimed(a) {
                let r = try t.existing(a)
                if r.state == .present {
                    t.stageRemoval(a)
                    report.notes.append("removed \(a): gone from the bus")
                } else {
                    report.notes.append("\(a) is gone from the bus but \(r.state.rawValue); kept")
                }
            }
            report.add(try t.commit(apply: !dryRun))
            report.devices = try found.filter { !claimed($0) }.compactMap { try t.record($0) }
            return report
        }
    }

    func initializeUnlessDryRun(_ dryRun: Bool) throws {
        if !dryRun { try initialize() }
    }
}
