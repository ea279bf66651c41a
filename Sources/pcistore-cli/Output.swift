import ArgumentParser
import Foundation
import PCIStore
import PCIStoreSchema
import XenStore
#if canImport(Glibc)
import Glibc
#endif

/// Diagnostics and exit codes: one line on stderr, the documented code.
enum Output {
    static func note(_ message: String) {
        let line = Array("pcistore: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Runs a command body; a failure becomes one stderr line and its exit code.
    static func guarded(_ body: () throws -> Void) throws {
        do { try body() } catch { throw reported(error) }
    }

    /// The one place an error becomes a stderr line and an exit code; errors
    /// it does not know (the parser's own) go back unchanged.
    static func reported(_ error: any Error) -> any Error {
        switch error {
        case let e as XenStoreError:
            note(e.description)
            return ExitCode(exitCode(for: e))
        case let e as PCIStoreError:
            note(e.message)
            return ExitCode(e.store.map(exitCode(for:)) ?? exitCode(for: e.kind))
        case let e as SysfsError:
            note(e.description)
            return ExitCode(1)
        default:
            return error
        }
    }

    /// What an operation did (or, dry, would do): steps, notes, devices.
    static func report(_ r: Report, dryRun: Bool, verbose: Bool = true) {
        if dryRun {
            print("dry run: nothing was changed; this would happen:")
            for s in r.steps { print("  " + s) }
        }
        for n in r.notes {
            if n.hasPrefix("warning: ") { note(n) } else { print(n) }
        }
        if !dryRun && verbose {
            for d in r.devices { print("\(d.address) \(d.state.rawValue)\(d.domain.map { " domain \($0)" } ?? "")\(d.stub.map { " stub \($0)" } ?? "")\(d.lastReset.map { " reset \($0)" } ?? "")") }
        }
    }

    static func devices(_ rows: [DeviceRecord], json: Bool) {
        let sorted = rows.sorted { $0.address < $1.address }
        if json { print(DatabaseJSON.encode(sorted)); return }
        let header = ["ADDRESS", "NAME", "STATE", "DOMAIN", "DRIVER", "STUB", "RESET"]
        let table = [header] + sorted.map { r in
            [r.address.description, r.name?.rawValue ?? "-", r.state.rawValue, r.domain?.description ?? "-",
             r.originalDriver?.rawValue ?? "-", r.stub?.rawValue ?? "-", r.lastReset ?? "-"]
        }
        let widths = header.indices.map { i in table.map { $0[i].count }.max()! }
        for row in table {
            print(row.enumerated().map { i, c in i == row.count - 1 ? c : c.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }.joined())
        }
    }

    /// Problems found while reading are said on stderr; the good records still print.
    static func violations(_ v: [SchemaViolation]) {
        for p in v.prefix(20) { note("schema: \(p)") }
        if v.count > 20 { note("schema: … and \(v.count - 20) more; see `pcistore check`") }
    }

    /// The README's table for database errors: 64 bad input, 69 agent down,
    /// 75 agent busy or slow, 1 everything else.
    static func exitCode(for kind: PCIStoreError.Kind) -> Int32 {
        switch kind {
        case .badInput: 64
        case .agentDown: 69
        case .agentBusy: 75
        case .refused, .corrupt, .sysfs, .store, .agentFailed: 1
        }
    }

    /// The README's table: 1 refused, 64 bad input, 69 unreachable, 75 retries, 77 denied.
    static func exitCode(for e: XenStoreError) -> Int32 {
        switch e.code {
        case .unreachable: 69
        case .retriesExhausted: 75
        case .accessDenied, .notPermitted: 77
        case .invalidArgument where e.operation == .parse, .tooBig: 64
        default: 1
        }
    }
}

enum Environment {
    static var current: [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }
}

/// Parsers for `transform:`, so a bad argument is reported with the reason
/// the XenStore layer gives (which character, which limit), exit code 64.
enum Parse {
    static func path(_ text: String) throws -> XenStorePath {
        do { return try XenStorePath(text) } catch { throw ValidationError(error.description) }
    }
    static func address(_ text: String) throws -> SBDF {
        do { return try SBDF(text) } catch { throw ValidationError(error.description) }
    }
    static func name(_ text: String) throws -> DeviceName {
        do { return try DeviceName(text) } catch { throw ValidationError(error.description) }
    }
    static func driver(_ text: String) throws -> DriverName {
        do { return try DriverName(text) } catch { throw ValidationError(error.description) }
    }
    /// A guest's domain id: 1…32751 (dom0 keeps no passthrough devices).
    static func guest(_ text: String) throws -> DomID {
        guard let d = try? DomID(text), d != .dom0 else {
            throw ValidationError("'\(text)' is not a guest domain id (1…\(DomID.maxValue))")
        }
        return d
    }
}
