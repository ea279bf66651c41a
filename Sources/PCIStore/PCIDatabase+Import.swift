import PCIStoreSchema
import XenStore

extension PCIDatabase {
    /// `import --manifest`: records what a boot manifest says, all of it or
    /// nothing. A device already recorded `present` takes the manifest's
    /// facts; one recorded exactly so already is left alone; one recorded
    /// otherwise (held by a stub, owned by someone else) refuses the import,
    /// since the manifest and the store cannot both be right.
    public func importManifest(_ manifest: BootManifest, dryRun: Bool = false) throws -> Report {
        try initializeUnlessDryRun(dryRun)
        return try transaction { t in
            var report = Report()
            for var m in manifest.records {
                guard let old = try t.record(m.address) else {
                    t.stage(m)
                    report.devices.append(m)
                    report.notes.append("recorded \(m.address) \(m.state.rawValue)\(m.domain.map { " to domain \($0)" } ?? "")")
                    continue
                }
                if old.state == m.state && old.domain == m.domain && old.stub == m.stub && old.identity == m.identity
                    && old.resources == m.resources && old.name == m.name {
                    report.notes.append("\(m.address) is already recorded so")
                    continue
                }
                guard old.state == .present else {
                    throw PCIStoreError.refused("\(m.address) is recorded \(old.state.rawValue)\(old.domain.map { " to domain \($0)" } ?? "")"
                        + " with \(old.stub.map { "\($0)" } ?? "no stub"); the manifest says \(m.state.rawValue)"
                        + "\(m.domain.map { " to domain \($0)" } ?? ""). Release or remove it first; nothing was imported")
                }
                m.history = old.history
                m.originalDriver = old.originalDriver
                t.stage(m)
                report.devices.append(m)
                report.notes.append("recorded \(m.address) \(m.state.rawValue)\(m.domain.map { " to domain \($0)" } ?? "") (was present)")
            }
            report.add(try t.commit(apply: !dryRun))
            return report
        }
    }
}
