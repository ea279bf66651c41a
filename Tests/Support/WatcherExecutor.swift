import Foundation

/// A task executor with a thread of its own, for the tasks a test watches
/// with a deadline (recorders of events, a reaper under test).
///
/// The shared cooperative pool has one thread per core, two on the project's
/// machine, and many tests block one of them for seconds: a CLI run, a
/// `usleep` wait, a database of thousands of devices. A watcher on that pool
/// could then sit unscheduled past its test's 20-second deadline, and the
/// test would fail for a reason that is not its own. Tasks started with
/// `Task(executorPreference: WatcherExecutor.next())` run their
/// nonisolated code here instead.
public final class WatcherExecutor: TaskExecutor, @unchecked Sendable {
    // Unchecked: `jobs` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(name: String) {
        let thread = Thread { [unowned self] in run() }
        thread.name = name
        thread.start()
    }

    /// A few executors for the whole test process, handed out in turn, so
    /// one watcher's blocking call does not hold up every other watcher.
    private static let all = (0..<4).map { WatcherExecutor(name: "watcher-\($0)") }
    private static let turn = NSLock()
    nonisolated(unsafe) private static var next_ = 0

    public static func next() -> WatcherExecutor {
        turn.lock()
        defer { turn.unlock() }
        next_ += 1
        return all[next_ % all.count]
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
