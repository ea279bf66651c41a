import ArgumentParser
import Foundation
import PCIStore

struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run until stopped, giving back the devices of each domain that goes.",
        discussion: """
            Reconciles as `pcistore reconcile` does at start-up (owners that went while nothing watched), \
            then each time the store fires @releaseDomain, and prints one line per reconciliation on stdout \
            (warnings and failures on stderr). When the store goes away it reconnects and reconciles again. \
            Ends with exit 0 on SIGTERM or SIGINT, after the reconciliation under way. \
            contrib/systemd/pcistore-daemon.service runs it under systemd.

            Example: pcistore daemon --store xenstore
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions

    func run() async throws {
        let global = self.global
        let reaper: DeadDomainReaper
        do {
            let (db, reconnect) = try global.session()
            reaper = DeadDomainReaper(database: db, sysfs: sysfs.value, reconnect: reconnect, onEvent: Self.say)
        } catch {
            throw Output.reported(error)
        }
        do {
            try await LongRunning.run("daemon") { try await reaper.run() }
        } catch {
            throw Output.reported(error)
        }
    }

    /// One line per event; stdout unbuffered, so a reader on a pipe or the
    /// journal sees each as it happens.
    static func say(_ event: DeadDomainReaper.Event) {
        switch event {
        case .reconciled(let r, let trigger):
            FileHandle.standardOutput.write(Data("\(trigger.rawValue): \(Reconcile.summary(r, dryRun: false))\n".utf8))
            for n in r.report.notes { Output.note(n) }
            for f in r.failures { Output.note(f.description) }
        case .failed(let e, let trigger):
            Output.note("\(trigger.rawValue): reconciliation failed: \(e.message); trying again at the next release")
        case .disconnected(let e):
            Output.note("lost the store (\(e.message)); reconnecting")
        }
    }
}
