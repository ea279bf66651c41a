import ArgumentParser
import PCIStore
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

    /// Runs a command body; a XenStore failure becomes one stderr line and its exit code.
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as XenStoreError {
            note(e.description)
            throw ExitCode(exitCode(for: e))
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
}
