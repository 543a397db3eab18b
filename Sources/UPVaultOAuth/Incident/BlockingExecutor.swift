import Dispatch
import Foundation
import Synchronization

/// Threads for tasks whose work blocks: a store whose every call waits for a database's answer. Tasks
/// that prefer this executor (`withTaskExecutorPreference`, `addTask(executorPreference:)`) run here,
/// so a bulk run's waits never hold up Swift's cooperative pool (one thread per core), and as many of
/// its grants as it has threads are in flight at once.
final class BlockingExecutor: TaskExecutor {
    static let shared = BlockingExecutor(threads: 32)

    private let queue = Mutex<[UnownedJob]>([])
    private let ready = DispatchSemaphore(value: 0)

    init(threads: Int) {
        for index in 0..<threads {
            let thread = Thread { [self] in run() }
            thread.name = "upvault-blocking-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.withLock { $0.append(unowned) }
        ready.signal()
    }

    private func run() {
        while true {
            ready.wait()
            guard let job = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
