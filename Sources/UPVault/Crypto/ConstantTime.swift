/// Comparisons whose time does not depend on where two secrets first differ.
public enum ConstantTime {
    /// True when `a` and `b` are the same bytes. Only the lengths may leak through timing.
    public static func equals(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        Sodium.constantTimeEqual(Array(a.utf8), Array(b.utf8))
    }
}
