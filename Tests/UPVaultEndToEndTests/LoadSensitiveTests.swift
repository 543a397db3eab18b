import Testing

/// The suites that run many processes against a sandbox (the incident drill, the contention tests) run
/// one test at a time: side by side on a small machine their processes starve each other's sandboxes
/// into time-outs that have nothing to do with what they test.
@Suite(.serialized) enum LoadSensitiveTests {}
