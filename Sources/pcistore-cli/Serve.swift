import ArgumentParser
import Foundation
import XenStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the embedded XenStore engine on a unix socket, speaking xenstored's wire protocol.",
        discussion: """
            Clients are privileged (dom0), as on xenstored's own socket: libxenstore and the xenstore-* tools \
            (XENSTORED_PATH=PATH), pyxs, and pcistore (--store xenstore) work against it. Without --state the \
            store lives in memory and starts as xenstored starts (/, /tool/xenstored); with --state it is kept \
            in FILE, shared with --store file:FILE. Ends on SIGINT or SIGTERM after closing every client.

            Example: pcistore serve --socket /tmp/xs.sock & XENSTORED_PATH=/tmp/xs.sock xenstore-ls
            """)
    @Option(help: ArgumentHelp("Where to listen (replaces a stale socket; refuses a live one).", valueName: "path"))
    var socket: String
    @Option(help: ArgumentHelp("Keep the store in this file.", valueName: "file"))
    var state: String?

    func run() async throws {
        let server: XenStoreServer
        do {
            let engine = try state.map { (f) throws(XenStoreError) in try XenStoreEngine(persistingTo: f) } ?? XenStoreEngine()
            server = try XenStoreServer(engine: engine, socketPath: socket)
        } catch {
            throw Output.reported(error)
        }
        // The line scripts wait for: the socket accepts connections from here on.
        FileHandle.standardOutput.write(Data("serving \(socket)\n".utf8))
        try await LongRunning.run("serve") { await server.run() }
        Output.note("served \(server.clientsServed) client(s); stopped")
    }
}
