public import UPVault

/// What `upvault audit` looks at, and what it found. Every finding needs action.
public struct AuditReport: Codable, Sendable, Equatable {
    public struct Finding: Codable, Sendable, Equatable {
        /// `issued_before_incident`, `refreshed_with_old_secret`, `secret_predates_incident`,
        /// `needs_reauthorization`, `revoked`, `refresh_interrupted`, `expiring_soon`, `revocation_pending`,
        /// `revocation_failed`.
        public var kind: String
        /// `APP` or `APP/USER`.
        public var subject: String
        public var detail: String
    }

    public var incident: Int64?
    public var apps = 0
    public var grants = 0
    public var findings: [Finding] = []

    public var needsAction: Bool { !findings.isEmpty }
}

public enum Audit {
    /// Grants issued or last refreshed before the incident; grants whose tokens were obtained with a
    /// secret that is no longer current; apps whose current secret was added before the incident; grants
    /// needing re-authorization or revoked by the user; refreshes whose request may have reached the
    /// provider without their answer being recorded (the in-flight mark: a refresh running now, or one
    /// cut off); tokens expiring within `expiringWithin` seconds; revocations cut off in flight (pending)
    /// or refused (failed). A grant revoked with `upvault revoke` (it has a receipt) needs nothing more.
    public static func run(
        store: any VaultStore, incident: Int64?, expiringWithin: Int64, now: Int64
    ) throws -> AuditReport {
        let apps = Dictionary(try store.entries(App.self).map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        let grants = try store.entries(Grant.self)
        var report = AuditReport(incident: incident, apps: apps.count, grants: grants.count)
        func add(_ kind: String, _ subject: String, _ detail: String) {
            report.findings.append(.init(kind: kind, subject: subject, detail: detail))
        }
        for app in apps.values.sorted(by: { $0.name < $1.name }) {
            if let incident, let current = app.currentSecret, current.addedAt < incident {
                add(
                    "secret_predates_incident", app.name,
                    "the current client secret was added before the incident: rotate it")
            }
        }
        for grant in grants {
            let name = grant.entryName
            if grant.revocationStartedAt != nil {
                add("revocation_pending", name, "a revocation was cut off in flight: run 'upvault revoke' again")
                continue
            }
            if grant.revokedAt == nil, let error = grant.revocationError {
                add("revocation_failed", name, "the revocation failed (\(error)): run 'upvault revoke' again")
                continue
            }
            if grant.revokedAt != nil { continue }
            switch grant.status {
            case .needsReauthorization:
                add("needs_reauthorization", name, grant.statusReason ?? "the provider refused the refresh token")
                continue
            case .revoked:
                add("revoked", name, grant.statusReason ?? "the user removed the app")
                continue
            case .active:
                break
            }
            if grant.refreshStartedAt != nil {
                let rotates = apps[grant.app]?.rotatesRefreshTokens ?? false
                add(
                    "refresh_interrupted", name,
                    rotates
                        ? "a refresh is in flight or was cut off after its request may have reached the provider, "
                            + "which rotates refresh tokens: unless it is running now, log the user in again"
                        : "a refresh is in flight or was cut off: unless it is running now, refresh it again")
            }
            if let incident, (grant.lastRefreshAt ?? grant.issuedAt) < incident {
                add("issued_before_incident", name, "issued or last refreshed before the incident: refresh it")
            }
            if let app = apps[grant.app], let fingerprint = grant.secretFingerprint,
                fingerprint != app.currentSecretFingerprint
            {
                add(
                    "refreshed_with_old_secret", name,
                    "its tokens were obtained with a client secret that is no longer current")
            }
            if let expiresAt = grant.expiresAt, expiresAt - now < expiringWithin {
                add(
                    "expiring_soon", name,
                    expiresAt <= now ? "the access token has expired" : "the access token expires soon")
            }
        }
        return report
    }
}
