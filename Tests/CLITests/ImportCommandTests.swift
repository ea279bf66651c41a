import Foundation
import Testing
import XenStoreTestSupport

@Suite struct ImportCommandTests {
    @Test func importTheExampleThenRefuseAConflictAndGarbage() throws {
        let cli = CLI(store: CLI.temporaryStore())
        let example = RealXenStored.repositoryRoot + "/schema/examples/dom0less-manifest.json"
        let dry = try cli("import", "--manifest", example, "--dry-run")
        #expect(dry.status == 0 && dry.out.hasPrefix("dry run: nothing was changed"), "\(dry.err)")
        let r = try cli("import", "--manifest", example)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("recorded 0000:01:00.0 assigned to domain 1"))
        #expect(try cli("show", "nic0").out.contains("boot"))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let conflict = dir.appendingPathComponent("conflict.json").path
        try #"{"pcistore_manifest": 1, "devices": [{"address": "0000:01:00.0", "vendor": "8086", "device": "10d3", "domain": 9}]}"#
            .write(toFile: conflict, atomically: true, encoding: .utf8)
        let c = try cli("import", "--manifest", conflict)
        #expect(c.status == 1 && c.err.contains("0000:01:00.0 is recorded assigned to domain 1"), "\(c.err)")
        let garbage = dir.appendingPathComponent("garbage.json").path
        try "not json".write(toFile: garbage, atomically: true, encoding: .utf8)
        let g = try cli("import", "--manifest", garbage)
        #expect(g.status == 64 && g.err.hasPrefix("pcistore: \(garbage): manifest: not a pcistore manifest"), "\(g.err)")
        #expect(try cli("import", "--manifest", dir.appendingPathComponent("missing").path).status == 64)
    }
}
