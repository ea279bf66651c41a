import Foundation
import XenStoreTestSupport

/// `pcistore serve` as a child process, ready once it printed "serving".
final class ServeProcess: @unchecked Sendable {
    let socketPath: String
    let process = Process()
    private let out = Pipe(), err = Pipe()

    struct Failure: Error, CustomStringConvertible { let description: String }

    init(socketPath: String? = nil, state: String? = nil) throws {
        self.socketPath = socketPath ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("pcistore-serve-\(UUID().uuidString.prefix(8)).sock").path
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--socket", self.socketPath] + (state.map { ["--state", $0] } ?? [])
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // The first line is printed once the socket accepts connections.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard String(decoding: line, as: UTF8.self) == "serving \(self.socketPath)\n" else {
            process.waitUntilExit()
            let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw Failure(description: "serve did not start: \(String(decoding: line, as: UTF8.self)) \(e)")
        }
    }

    /// Sends `signal` and waits for the exit; returns the status and stderr.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> (status: Int32, err: String) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: e, as: UTF8.self))
    }
}
