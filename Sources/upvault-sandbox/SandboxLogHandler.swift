import Logging

/// The sandbox's log: warnings and worse, one line each on stderr. Metadata is kept as given and
/// formatted only when a line is written: Hummingbird sets a request id on every request's logger, and
/// swift-log's `StreamLogHandler` formats its whole metadata on every such set, which was a visible share
/// of the sandbox's cost per token request (it shares the machine with the client it measures).
struct SandboxLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        writeLine("\(label): \(event.level): \(event.message)\(fields)", to: 2)
    }
}
