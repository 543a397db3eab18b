/// Failures of the cryptographic primitives themselves (as opposed to a wrong key or damaged data,
/// which the format layer reports as `VaultError`).
public enum CryptoError: Error, Equatable, Sendable {
    /// Argon2id could not run with the requested parameters (for example, not enough memory).
    case keyDerivationFailed
}
