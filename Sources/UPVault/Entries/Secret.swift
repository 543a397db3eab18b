/// Secrets: any named value, stored as raw bytes (up to 1 MiB), for apps that just need secure storage.
extension Vault {
    /// The secret's value in secure memory, or nil when there is none.
    public func secret(named name: String) throws(VaultError) -> SecureBytes? {
        try value(for: EntryKey(.secret, name))
    }

    /// Stores a secret, replacing any previous value.
    public func setSecret(_ value: borrowing SecureBytes, named name: String) throws(VaultError) {
        try put(EntryKey(.secret, name), value: value)
    }

    /// Deletes a secret; false when there was none.
    @discardableResult
    public func removeSecret(named name: String) throws(VaultError) -> Bool {
        try remove(EntryKey(.secret, name))
    }

    /// The names of all secrets, sorted.
    public func secretNames() throws(VaultError) -> [String] {
        try names(of: .secret)
    }
}
