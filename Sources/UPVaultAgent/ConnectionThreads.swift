import Dispatch
import Synchronization

/// The threads that serve the agent's connections, kept for the next connection instead of made and ended
/// for each one: a script that calls `upvault token` in a loop opens a connection per call, and a thread's
/// start and end (its stack mapped and unmapped, on every core) cost more than the request.
final class ConnectionThreads: Sendable {
    private struct Queue {
        var jobs: [@Sendable () -> Void] = []
        var idle = 0
    }

    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    /// Threads kept waiting at most; beyond that a thread ends once its connection does.
    private let keep: Int
    /// Called each time a thread starts waiting for a job (tests wait on it instead of a clock).
    private let becameIdle: @Sendable () -> Void

    init(keep: Int = 8, becameIdle: @escaping @Sendable () -> Void = {}) {
        self.keep = keep
        self.becameIdle = becameIdle
    }

    /// Runs `job` on a waiting thread, or on a new one when none waits. Every job gets a thread: each
    /// submission either wakes one waiting thread or starts one, and each of those looks at the queue.
    func run(_ job: @escaping @Sendable () -> Void) {
        let start = queue.withLock { queue -> Bool in
            queue.jobs.append(job)
            guard queue.idle > 0 else { return true }
            queue.idle -= 1
            return false
        }
        guard start else {
            wake.signal()
            return
        }
        // No thread to be had: the job runs here, as the caller would have run it without this pool.
        if !DetachedThread.tryStart({ self.work() }), let job = takeJob() { job() }
    }

    /// Threads waiting for a job now.
    var waiting: Int { queue.withLock { $0.idle } }

    private func takeJob() -> (@Sendable () -> Void)? {
        queue.withLock { $0.jobs.isEmpty ? nil : $0.jobs.removeFirst() }
    }

    private func work() {
        while true {
            while let job = takeJob() { job() }
            let waits = queue.withLock { queue -> Bool in
                guard queue.idle < keep else { return false }
                queue.idle += 1
                return true
            }
            guard waits else { return }
            becameIdle()
            wake.wait()
        }
    }
}
