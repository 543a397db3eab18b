import NIOCore
import PostgresNIO
import Synchronization
public import UPVault

/// Refresh campaigns across workers (`CampaignStore`): a campaign row, one item per selected grant
/// (named by its name hash), claims with `FOR UPDATE SKIP LOCKED` under leases timed by the server's
/// clock, outcomes recorded per batch. The options are an entry row (`refresh run` named `campaign`),
/// written in the transaction that starts the campaign.
extension PostgresVault: CampaignStore {
    static let campaignEntry = EntryKey(.refreshRun, "campaign")

    public func joinCampaign(
        options: [UInt8], startedAt: Int64, select: () throws -> [String]
    ) throws -> CampaignTicket {
        while true {
            if let running = try runningCampaign() { return running }
            do {
                return try startCampaign(options: options, startedAt: startedAt, select: select)
            } catch let error as PostgresStoreError where error.sqlState == "23505" {
                continue  // another worker started one at the same moment: join it
            }
        }
    }

    private func startCampaign(
        options: [UInt8], startedAt: Int64, select: () throws -> [String]
    ) throws -> CampaignTicket {
        let (vaultID, keys) = try current()
        let names = try select()
        let hashes = names.map { keys.nameHash(of: EntryKey(.grant, $0)) }
        let id: Int64 = try session.withConnection { link in
            try link.transaction {
                let rows = try link.query(
                    "INSERT INTO \(unescaped: schema.quoted).campaigns (started_at) VALUES (\(startedAt)) RETURNING id"
                ).randomAccessRows
                let id = try rows[0][0].decode(Int64.self)
                for start in stride(from: 0, to: hashes.count, by: 10_000) {
                    let chunk = hashes[start..<min(hashes.count, start + 10_000)].map { ByteBuffer(bytes: $0) }
                    try link.execute(
                        """
                        INSERT INTO \(unescaped: schema.quoted).campaign_items (campaign, item)
                        SELECT \(id), item FROM unnest(\(chunk)::bytea[]) AS item ON CONFLICT DO NOTHING
                        """)
                }
                try putInTransaction(Self.campaignEntry, bytes: options, vaultID: vaultID, keys: keys, link)
                return id
            }
        }
        logger.info("started a refresh campaign", metadata: ["campaign": "\(id)", "grants": "\(hashes.count)"])
        return CampaignTicket(id: id, startedAt: startedAt, options: options, started: true)
    }

    public func runningCampaign() throws -> CampaignTicket? {
        let rows = try session.withConnection { link in
            try link.query(
                "SELECT id, started_at FROM \(unescaped: schema.quoted).campaigns WHERE finished_at IS NULL"
            ).randomAccessRows
        }
        guard let row = rows.first else { return nil }
        guard let options = try value(for: Self.campaignEntry) else {
            throw VaultError.integrity(.malformedRow(nameHash: "-", reason: "a running campaign without its options"))
        }
        return CampaignTicket(
            id: try row[0].decode(Int64.self), startedAt: try row[1].decode(Int64.self),
            options: options.withUnsafeBytes { Array($0) }, started: false)
    }

    public func claim(_ campaign: Int64, worker: String, count: Int, lease: Duration) throws -> [CampaignClaim] {
        // Those a dead worker left (lease run out) first, then waiting ones: two statements, each served
        // by the index of open items (no sort of the campaign).
        let expired = try retryingDeadlocks {
            try claim(campaign, worker: worker, count: count, lease: lease, expired: true)
        }
        let fresh =
            expired.count < count
            ? try claim(campaign, worker: worker, count: count - expired.count, lease: lease, expired: false) : []
        return expired + fresh
    }

    private func claim(
        _ campaign: Int64, worker: String, count: Int, lease: Duration, expired: Bool
    ) throws -> [CampaignClaim] {
        let seconds = lease.seconds
        let state: Int16 = expired ? 1 : 0
        let rows = try session.withConnection { link in
            try link.query(
                """
                WITH picked AS (
                    SELECT item FROM \(unescaped: schema.quoted).campaign_items
                    WHERE campaign = \(campaign) AND state = \(state) AND (\(state) = 0 OR lease_until < now())
                    LIMIT \(count) FOR UPDATE SKIP LOCKED
                ), claimed AS (
                    UPDATE \(unescaped: schema.quoted).campaign_items i
                    SET state = 1, worker = \(worker), lease_until = now() + make_interval(secs => \(seconds)),
                        claims = i.claims + 1
                    FROM picked WHERE i.campaign = \(campaign) AND i.item = picked.item
                    RETURNING i.item, i.claims - 1 AS previous
                )
                SELECT c.item, c.previous, e.kind, e.name_hash, e.version, e.nonce, e.ciphertext
                FROM claimed c LEFT JOIN \(unescaped: schema.quoted).entries e ON e.name_hash = c.item
                """
            ).randomAccessRows
        }
        return try rows.map { row in
            let item = try row[0].bytes()
            let previous = Int(try row[1].decode(Int32.self))
            guard try row[3].decode(ByteBuffer?.self) != nil else {
                return CampaignClaim(grant: nil, item: item, previousClaims: previous)
            }
            let sealed = try SealedRow(
                kindCode: try row[2].decode(Int16.self), nameHash: try row[3].bytes(),
                version: try row[4].decode(Int64.self), nonce: try row[5].bytes(), ciphertext: try row[6].bytes())
            guard sealed.kind == .grant else { return CampaignClaim(grant: nil, item: item, previousClaims: previous) }
            let grant = try open(sealed, expected: nil) { (name, value) throws(VaultError) in
                try Grant.decode(value, key: EntryKey(.grant, String(decoding: name, as: UTF8.self)))
            }
            return CampaignClaim(
                grant: grant.entryName, item: item, previousClaims: previous, entry: grant, version: sealed.entryVersion
            )
        }
    }

    /// Rows of `campaign_items` are always locked in `item` order (here, in `record`, in the claim's
    /// `SKIP LOCKED`), so a worker's heartbeat and its own outcomes never deadlock each other.
    public func renewLeases(_ campaign: Int64, worker: String, lease: Duration) throws {
        try retryingDeadlocks {
            try session.withConnection { link in
                try link.execute(
                    """
                    UPDATE \(unescaped: schema.quoted).campaign_items i
                    SET lease_until = now() + make_interval(secs => \(lease.seconds))
                    FROM (SELECT item FROM \(unescaped: schema.quoted).campaign_items
                          WHERE campaign = \(campaign) AND worker = \(worker) AND state = 1
                          ORDER BY item FOR UPDATE) AS held
                    WHERE i.campaign = \(campaign) AND i.item = held.item
                    """)
            }
        }
    }

    /// Runs `body` again (up to three times) when the server broke a deadlock or a serialization
    /// conflict by aborting it: the campaign's statements are idempotent.
    private func retryingDeadlocks<R>(_ body: () throws -> R) throws -> R {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error as PostgresStoreError where error.sqlState == "40P01" || error.sqlState == "40001" {
                attempt += 1
                if attempt >= 3 { throw error }
                logger.debug(
                    "a campaign statement was aborted by the server; trying again",
                    metadata: ["sqlstate": "\(error.sqlState ?? "")"])
            }
        }
    }

    public func record(_ campaign: Int64, worker: String, outcomes: [CampaignResult]) throws {
        guard !outcomes.isEmpty else { return }
        let items = outcomes.map { ByteBuffer(bytes: $0.item) }
        let codes = outcomes.map(\.outcome.rawValue)
        try retryingDeadlocks {
            try session.withConnection { link in
                try link.execute(
                    """
                    UPDATE \(unescaped: schema.quoted).campaign_items i
                    SET state = 2, outcome = o.outcome, done_at = now()
                    FROM unnest(\(items)::bytea[], \(codes)::int2[]) AS o(item, outcome),
                        (SELECT item FROM \(unescaped: schema.quoted).campaign_items
                         WHERE campaign = \(campaign) AND item = ANY(\(items)::bytea[]) AND worker = \(worker)
                            AND state = 1
                         ORDER BY item FOR UPDATE) AS held
                    WHERE i.campaign = \(campaign) AND i.item = held.item AND o.item = held.item
                    """)
            }
        }
    }

    public func finishCampaign(_ campaign: Int64) throws -> Bool {
        let rows = try session.withConnection { link in
            try link.query(
                """
                UPDATE \(unescaped: schema.quoted).campaigns SET finished_at = extract(epoch FROM now())::bigint
                WHERE id = \(campaign) AND finished_at IS NULL AND NOT EXISTS (
                    SELECT 1 FROM \(unescaped: schema.quoted).campaign_items WHERE campaign = \(campaign) AND state < 2)
                RETURNING id
                """
            ).randomAccessRows
        }
        if !rows.isEmpty {
            logger.info("refresh campaign finished", metadata: ["campaign": "\(campaign)"])
            return true
        }
        return try campaignStatus(campaign)?.finishedAt != nil
    }

    public func campaignStatus(_ campaign: Int64?) throws -> CampaignStatus? {
        let s = schema.quoted
        let rows = try session.withConnection { link in
            try link.query(
                """
                SELECT c.id, c.started_at, c.finished_at, count(i.item),
                    count(*) FILTER (WHERE i.state = 0), count(*) FILTER (WHERE i.state = 1),
                    count(*) FILTER (WHERE i.outcome = 1), count(*) FILTER (WHERE i.outcome = 2),
                    count(*) FILTER (WHERE i.outcome = 3), count(*) FILTER (WHERE i.outcome = 4),
                    count(*) FILTER (WHERE i.outcome = 5), count(DISTINCT i.worker) FILTER (WHERE i.state = 1),
                    count(*) FILTER (WHERE i.done_at > now() - interval '60 seconds'),
                    extract(epoch FROM now())::bigint
                FROM \(unescaped: s).campaigns c LEFT JOIN \(unescaped: s).campaign_items i ON i.campaign = c.id
                WHERE c.id = coalesce(\(campaign), (
                    SELECT id FROM \(unescaped: s).campaigns ORDER BY (finished_at IS NULL) DESC, id DESC LIMIT 1))
                GROUP BY c.id
                """
            ).randomAccessRows
        }
        guard let row = rows.first else { return nil }
        func count(_ column: Int) throws -> Int { Int(try row[column].decode(Int64.self)) }
        let startedAt = try row[1].decode(Int64.self)
        let now = try row[13].decode(Int64.self)
        let window = Double(max(1, min(60, now - startedAt)))
        let rate = Double(try count(12)) / window
        let left = try count(4) + count(5)
        return CampaignStatus(
            id: try row[0].decode(Int64.self), startedAt: startedAt, finishedAt: try row[2].decode(Int64?.self),
            total: try count(3), waiting: try count(4), claimed: try count(5), refreshed: try count(6),
            alreadyFresh: try count(7), needsReauthorization: try count(8), failed: try count(9),
            skipped: try count(10),
            workers: try count(11), rate: rate,
            etaSeconds: rate > 0 && left > 0 ? Int64((Double(left) / rate).rounded(.up)) : nil)
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
