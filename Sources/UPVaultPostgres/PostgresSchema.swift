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
        ]
    }
}
