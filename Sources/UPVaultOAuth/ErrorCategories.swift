public import UPVault

extension OAuthError: CategorizedError {
    public var category: FailureCategory {
        switch self {
        case .vault(let error): error.category
        case .agent(let error): error.category
        case _ where needsReauthorization: .needsReauthorization
        case _ where isTransient: .unavailable
        case .insecureEndpoint, .invalidArgument, .malformedURL, .appExists, .appHasGrants: .usage
        default: .failure
        }
    }
}

extension KieferError: CategorizedError {
    public var category: FailureCategory {
        switch self {
        case .grantExists, .appConflict: .usage
        default: .failure
        }
    }
}

extension ReferenceError: CategorizedError {
    public var category: FailureCategory { isUsage ? .usage : .failure }
}

extension GrantImportError: CategorizedError {
    public var category: FailureCategory { isUsage ? .usage : .failure }
}

extension BulkRefreshError: CategorizedError {
    public var category: FailureCategory { self == .noCampaigns ? .usage : .failure }
}
