import Logging
public import UPVault

/// Token revocation (RFC 7009): the provider forgets a grant's tokens; the vault keeps the grant, marked
/// `revoked`, with a receipt (when, by which endpoint, the provider's status).
extension OAuthClient {
    /// Revokes the grant's refresh token, then its access token, at the app's revocation endpoint, and
    /// marks the grant revoked with its receipt; with `purge`, deletes it once revoked. The grant is
    /// marked (`revocationStartedAt`, durably) before the first request leaves, so a crash leaves it
    /// pending for `audit` and the next `revoke` (revoking again is harmless: RFC 7009 §2.2). A grant
    /// already revoked is not sent again. Returns the grant as stored (nil when purged).
    @discardableResult
    public func revoke(app appName: String, user: String, purge: Bool = false) async throws(OAuthError) -> Grant? {
        let app = try app(named: appName)
        guard let endpoint = app.endpoints.revocation else {
            throw .unsupported(
                "app \(appName) has no revocation endpoint (add it with 'app add --revocation-url', or discover it "
                    + "with --issuer)")
        }
        let key = EntryKey(.grant, "\(appName)/\(user)")
        do {
            return try await vault.withEntryLock(key) { () async throws(OAuthError) -> Grant? in
                var grant = try self.grant(app: appName, user: user)
                if grant.revokedAt == nil {
                    grant = try await self.performRevocation(grant, app: app, endpoint: endpoint)
                }
                guard purge else { return grant }
                try self.vaultCall { try self.vault.remove(key) }
                self.logger.info("revoked grant purged", metadata: ["grant": "\(key.name)"])
                return nil
            }
        } catch {
            throw Self.oauthError(error)
        }
    }

    /// One grant's revocation (the caller holds its lock): mark, send, record the receipt or the error.
    /// Transient failures are tried again up to `attempts` times in all, with exponential back-off;
    /// a 429 also slows `pacer` down and waits for its Retry-After.
    /// A bulk run passes its `GroupCommit`, so that the marks and receipts of its workers share syncs.
    func performRevocation(
        _ grant: Grant, app: App, endpoint: String, pacer: Pacer? = nil, attempts: Int = 1,
        commit: GroupCommit? = nil
    ) async throws(OAuthError) -> Grant {
        func save(_ grant: Grant) async throws(OAuthError) {
            if let commit { try await commit.put(grant) } else { try store(grant) }
        }
        var marked = grant
        marked.revocationStartedAt = now()
        try await save(marked)
        var attempt = 1
        while true {
            do {
                let status = try await sendRevocation(grant, app: app, endpoint: endpoint, pacer: pacer)
                var revoked = marked
                revoked.revocationStartedAt = nil
                revoked.revocationError = nil
                revoked.revokedAt = now()
                revoked.revocationEndpoint = (try? ParsedURL(endpoint))?.withoutQuery ?? endpoint
                revoked.revocationStatus = Int64(status)
                revoked.status = .revoked
                revoked.statusReason = "revoked with upvault revoke"
                try await save(revoked)
                logger.info("grant revoked", metadata: ["grant": "\(grant.entryName)"])
                return revoked
            } catch let error where error.isTransient && attempt < attempts {
                attempt += 1
                var wait = Duration.milliseconds(min(100 << min(attempt, 10), 10_000))
                if case .rateLimited(let after) = error {
                    pacer?.slowDown()
                    wait = max(wait, .seconds(min(after ?? 1, 300)))
                }
                try? await sleep(wait)
            } catch {
                var failed = marked
                // The answer was lost: the request may have been acted on; the grant stays pending.
                if case .transport(let reason) = error, !AsyncHTTPTransport.neverSent(reason) {
                } else {
                    failed.revocationStartedAt = nil
                }
                failed.revocationError = error.description
                try? await save(failed)
                logger.warning(
                    "revocation failed",
                    metadata: ["grant": "\(grant.entryName)", "error": "\(error.category.rawValue)"])
                throw error
            }
        }
    }

    /// The refresh token's revocation, then the access token's; the status of the first success.
    func sendRevocation(_ grant: Grant, app: App, endpoint: String, pacer: Pacer?) async throws(OAuthError) -> Int {
        var status = 0
        if let refresh = grant.refreshToken {
            await pacer?.acquire()
            status = try await revokeToken(refresh, hint: "refresh_token", app: app, endpoint: endpoint)
        }
        do {
            await pacer?.acquire()
            let accessStatus = try await revokeToken(
                grant.accessToken, hint: "access_token", app: app, endpoint: endpoint)
            if status == 0 { status = accessStatus }
        } catch .providerError(let code, _, _) where code == "unsupported_token_type" && status != 0 {
            // The provider revokes only refresh tokens; the refresh token's revocation ended the grant.
        }
        return status
    }

    /// POSTs one token to the revocation endpoint; returns the HTTP status of a success.
    func revokeToken(_ token: String, hint: String, app: App, endpoint: String) async throws(OAuthError) -> Int {
        let (status, _) = try await clientRequest(
            app: app, url: endpoint, fields: [("token", token), ("token_type_hint", hint)],
            parse: RevocationResponse.parse)
        return status
    }
}

/// A revocation endpoint's answer: any 2xx is success (RFC 7009 §2.2, whatever the body); a redirect
/// is refused, not followed (the token would go somewhere else); an OAuth error, a 429 or a 5xx is an
/// error like the token endpoint's.
enum RevocationResponse {
    static func parse(_ result: HTTPResult) throws(OAuthError) -> Int {
        if (200..<300).contains(result.status) { return result.status }
        if (300..<400).contains(result.status) {
            throw .unexpectedResponse(
                httpStatus: result.status, reason: "the revocation endpoint redirected; the token was not sent on")
        }
        if let body = try? ProviderJSON.decode(ErrorBody.self, from: result), let code = body.error {
            throw ProviderJSON.oauthError(
                code: code, description: body.errorDescription, status: result.status, result: result)
        }
        throw ProviderJSON.statusError(result)
    }

    struct ErrorBody: Decodable {
        var error: String?
        var errorDescription: String?

        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }
}
