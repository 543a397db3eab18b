import PostgresNIO

/// The tables of a vault in one schema (Vault/ROWS.md, "Tables"). Every statement names the schema
/// explicitly; the schema name is checked to be a plain identifier (`PostgresLocation`) and quoted.
struct PostgresSchema: Sendable {
    /// The version of these tables, kept in the header row; a reader refuses any other.
    static let formatVersion: Int16 = 1

    let name: String

    /// `"name"`.
    var quoted: String { "\"\(name)\"" }

    /// The statements that create a vault's tables, run in one transaction with the header row's insert.
    var creation: [PostgresQuery] {
        let s = quoted
        return [
            "CREATE SCHEMA IF NOT EXISTS \(unescaped: s)",
            """
            CREATE TABLE \(unescaped: s).header (
                id smallint PRIMARY KEY CHECK (id = 1),
                format smallint NOT NULL,
                bytes bytea NOT NULL
            )
            """,
            """
            CREATE TABLE \(unescaped: s).entries (
                name_hash bytea PRIMARY KEY CHECK (length(name_hash) = 32),
                kind smallint NOT NULL,
                version bigint NOT NULL CHECK (version > 0),
                nonce bytea NOT NULL CHECK (length(nonce) = 24),
                ciphertext bytea NOT NULL
            )
            """,
            "CREATE INDEX entries_by_kind ON \(unescaped: s).entries (kind)",
            "CREATE SEQUENCE \(unescaped: s).versions AS bigint",
        ] + campaignTables
    }

    /// The tables of refresh campaigns across workers (Vault/ROWS.md, "Campaigns"). Items name grants by
    /// their name hash only; the campaign's options are an entry row.
    var campaignTables: [PostgresQuery] {
        let s = quoted
        return [
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: s).campaigns (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                started_at bigint NOT NULL,
                finished_at bigint
            )
            """,
            """
            CREATE UNIQUE INDEX IF NOT EXISTS campaigns_one_running ON \(unescaped: s).campaigns ((true))
                WHERE finished_at IS NULL
            """,
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: s).campaign_items (
                campaign bigint NOT NULL REFERENCES \(unescaped: s).campaigns ON DELETE CASCADE,
                item bytea NOT NULL,
                state smallint NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),
                outcome smallint,
                worker text,
                lease_until timestamptz,
                claims integer NOT NULL DEFAULT 0,
                done_at timestamptz,
                PRIMARY KEY (campaign, item)
            )
            """,
            """
            CREATE INDEX IF NOT EXISTS campaign_items_open ON \(unescaped: s).campaign_items (campaign, state)
                WHERE state < 2
            """,
        ]
    }
}
