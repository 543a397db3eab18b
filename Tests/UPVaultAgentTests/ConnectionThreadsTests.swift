import Dispatch
import Glibc
import Synchronization
import Testing

@testable import UPVaultAgent

/// The kernel's id of the calling thread (`/proc/thread-self` is `PID/task/TID`).
func threadID() -> Int32 {
    var buffer = [CChar](repeating: 0, count: 64)
    let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    let text = String(decoding: buffer.prefix(max(0, count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return Int32(text.split(separator: "/").last ?? "") ?? -1
}

@Suite struct ConnectionThreadsTests {
    /// Every connection gets a thread at once (none waits for another to end), and a thread that served
    /// one connection serves the next instead of a new thread being made (kernel thread ids, never reused
    /// this soon, tell them apart).
    @Test func everyJobRunsAtOnceAndThreadsAreKept() async {
        let idle = DispatchSemaphore(value: 0)
        let threads = ConnectionThreads(keep: 4) { idle.signal() }
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let first = Mutex<Set<Int32>>([])
        for _ in 0..<10 {
            threads.run {
                first.withLock { _ = $0.insert(threadID()) }
                started.signal()
                release.wait()
            }
        }
        await offThePool { for _ in 0..<10 { started.wait() } }
        #expect(first.withLock { $0.count } == 10, "ten jobs ran side by side")
        for _ in 0..<10 { release.signal() }
        // Four of the ten threads stay: each says so as it starts waiting (a condition, not a clock).
        let kept = await offThePool { (0..<4).allSatisfy { _ in idle.wait(timeout: .now() + 30) == .success } }
        #expect(kept && threads.waiting == 4)
        let second = Mutex<Set<Int32>>([])
        for _ in 0..<6 {
            let done = DispatchSemaphore(value: 0)
            threads.run {
                second.withLock { _ = $0.insert(threadID()) }
                done.signal()
            }
            await offThePool { done.wait() }
        }
        let reused = second.withLock { $0 }.isSubset(of: first.withLock { $0 })
        #expect(reused, "the later jobs ran on kept threads")
        #expect(threads.waiting <= 4)
    }
}
