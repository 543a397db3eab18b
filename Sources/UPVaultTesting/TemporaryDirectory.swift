import Foundation

/// A private (0700) temporary directory, removed when the value goes away: the one way tests make one.
package final class TemporaryDirectory: Sendable {
    package let path: String

    package init(prefix: String = "upvault-test") {
        path = Self.create(prefix: prefix)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A new private directory under `$TMPDIR`, left for the caller to remove.
    package static func create(prefix: String) -> String {
        var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed")
        return String(cString: template)
    }

    package func file(_ name: String) -> String { path + "/" + name }

    /// A file holding `contents`, mode 0600 unless said otherwise.
    @discardableResult
    package func privateFile(_ name: String, contents: String, mode: Int = 0o600) -> String {
        let target = file(name)
        FileManager.default.createFile(
            atPath: target, contents: Data(contents.utf8), attributes: [.posixPermissions: mode])
        return target
    }
}
