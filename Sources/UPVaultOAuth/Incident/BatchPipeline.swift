import Dispatch
import Synchronization

/// Two stages on two threads: `produce` runs on another thread and hands batches over with `push`,
/// while the caller's thread `consume`s them in order, at most `depth` batches waiting. An import parses
/// the next batch of the file while this one is sealed and written (sealing is serial: each record's
/// associated data holds the previous record's tag).
///
/// A failure on either side stops both: a consumer's error cancels the producer's next `push`, a
/// producer's error ends the batches. `run` returns only after the producer has returned, and throws the
/// consumer's error first, else the producer's.
enum BatchPipeline {
    static func run<Batch: Sendable>(
        depth: Int, produce: @escaping @Sendable (_ push: (Batch) throws -> Void) throws -> Void,
        consume: (Batch) throws -> Void
    ) throws {
        let channel = Channel<Batch>(depth: depth)
        DispatchQueue.global().async {
            do {
                try produce { batch in try channel.push(batch) }
                channel.finish(nil)
            } catch {
                channel.finish(error)
            }
        }
        var failure: (any Error)?
        while let batch = channel.pop() {
            do {
                try consume(batch)
            } catch {
                failure = error
                channel.cancel()
                break
            }
        }
        let producerError = channel.waitForProducer()
        if let failure { throw failure }
        if let producerError { throw producerError }
    }

    struct Cancelled: Error {}

    final class Channel<Batch: Sendable>: Sendable {
        private struct State {
            var queue: [Batch] = []
            var cancelled = false
            var error: (any Error)?
        }

        private let state = Mutex(State())
        private let slots: DispatchSemaphore
        private let items = DispatchSemaphore(value: 0)
        private let ended = DispatchSemaphore(value: 0)

        init(depth: Int) { slots = DispatchSemaphore(value: max(1, depth)) }

        /// Waits for room, then queues `batch`; throws once the consumer has given up.
        func push(_ batch: Batch) throws {
            slots.wait()
            let cancelled = state.withLock { state in
                if !state.cancelled { state.queue.append(batch) }
                return state.cancelled
            }
            if cancelled {
                slots.signal()  // for the next push, if the producer tries one
                throw Cancelled()
            }
            items.signal()
        }

        /// The producer is done (`error` nil: every batch was pushed).
        func finish(_ error: (any Error)?) {
            state.withLock { $0.error = error }
            items.signal()
            ended.signal()
        }

        /// The next batch, or nil once the producer is done and every batch was taken.
        func pop() -> Batch? {
            items.wait()
            let batch = state.withLock { state in state.queue.isEmpty ? nil : state.queue.removeFirst() }
            if batch != nil { slots.signal() }
            return batch
        }

        func cancel() {
            state.withLock { $0.cancelled = true }
            slots.signal()  // a push waiting for room wakes up and sees it
        }

        /// Waits until the producer has returned; its error, if it failed.
        func waitForProducer() -> (any Error)? {
            ended.wait()
            return state.withLock { $0.error }
        }
    }
}
