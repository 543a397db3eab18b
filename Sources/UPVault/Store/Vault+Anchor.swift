import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The anchor: a vault never goes back in time, not within a handle and not across processes.
extension Vault {
    /// The anchor file's bytes, or nil when there is none yet.
    static func readAnchor(at path: String) throws(VaultError) -> [UInt8]? {
        do {
            return try FileSystem.readFile(path, maximum: 4096)
        } catch .io(_, _, let code) where code == ENOENT {
            return nil
        }
    }

    /// Compares the freshly opened state with its anchor and moves the anchor forward: refuses a
    /// vault that is older than its anchor or has another history, unless `accepting`.
    func checkAnchor(stored: [UInt8]?, tagAtMark: Tag?, accepting: Bool) throws(VaultError) {
        guard let anchorPath else { return }
        try state.withLock { (state) throws(VaultError) in
            let current = state.mark
            if let stored {
                guard let anchored = AnchorRecord.decode(stored, vaultID: state.header.vaultID, key: state.keys.anchor)
                else {
                    guard accepting else { throw .integrity(.anchorUnverifiable(path: anchorPath)) }
                    logger.warning(
                        "accepted a vault whose anchor did not verify", metadata: ["anchor": "\(anchorPath)"])
                    moveAnchor(to: state)
                    return
                }
                switch anchored.continuity(of: current, tagAtThisCount: tagAtMark) {
                case .same:
                    return
                case .ahead:
                    break
                case .behind where !accepting:
                    throw .integrity(
                        .wentBackInTime(
                            generation: current.generation, records: current.count,
                            seenGeneration: anchored.generation, seenRecords: anchored.count, anchor: anchorPath))
                case .diverged where !accepting:
                    throw .integrity(
                        .divergedHistory(generation: current.generation, records: current.count, anchor: anchorPath))
                case .behind, .diverged:
                    logger.warning(
                        "accepted a vault older than its anchor",
                        metadata: [
                            "anchor": "\(anchorPath)", "anchored": "\(anchored.generation)/\(anchored.count)",
                            "vault": "\(current.generation)/\(current.count)",
                        ])
                }
            }
            moveAnchor(to: state)
        }
    }

    /// Records `state` in the anchor. Called after every commit with the vault's lock held, so anchors
    /// only move forward. A failure is logged, never thrown: the commit it follows is already durable,
    /// and an anchor that lags behind its vault is safe (it is moved forward at the next open).
    func moveAnchor(to state: borrowing State) {
        guard let anchorPath else { return }
        let bytes = AnchorRecord.encode(state.mark, vaultID: state.header.vaultID, key: state.keys.anchor)
        do {
            // In place when it exists (one small write, no fsync: a lagging anchor is safe); else
            // created atomically, 0600, in a private directory.
            if let file = try? PosixFile.open(anchorPath, flags: O_WRONLY | O_NOFOLLOW), try file.status().isRegularFile
            {
                try file.write(bytes, at: 0)
                return
            }
            try FileSystem.createPrivateParents(of: anchorPath)
            try FileSystem.checkDirectory(of: anchorPath)
            try FileSystem.writePrivateFile(bytes, to: anchorPath)
        } catch {
            logger.warning(
                "could not update the vault's anchor", metadata: ["anchor": "\(anchorPath)", "error": "\(error)"])
        }
    }
}
