import ArgumentParser
import UPVault
import UPVaultOAuth

/// A duration such as `300`, `90s`, `5m`, `8h`, `14d`, `2w` (at most ten years).
struct DurationArgument: ExpressibleByArgument {
    var seconds: Int64

    init?(argument: String) {
        guard let seconds = DurationText.seconds(parsing: argument) else { return nil }
        self.seconds = seconds
    }

    var duration: Duration { .seconds(seconds) }
}

/// A date: `2014-04-25`, `2014-04-25T12:00:00Z`, or Unix seconds.
struct DateArgument: ExpressibleByArgument {
    var seconds: Int64

    init?(argument: String) {
        guard let time = UnixTime(parsing: argument) else { return nil }
        seconds = time.seconds
    }
}

/// `--kdf interactive|moderate|sensitive|OPS:MIB`.
struct KDFChoice: ExpressibleByArgument {
    var parameters: KDFParameters

    init?(argument: String) {
        guard let parameters = KDFParameters(parsing: argument) else { return nil }
        self.parameters = parameters
    }

    static var defaultCompletionKind: CompletionKind { .list(["interactive", "moderate", "sensitive"]) }
}

/// `--provider jawbone|generic`.
enum ProviderArgument: String, ExpressibleByArgument, CaseIterable {
    case jawbone, generic

    var preset: ProviderPreset { self == .jawbone ? .jawbone : .generic }
}

/// `--client-auth client_secret_post|client_secret_basic`.
enum ClientAuthArgument: String, ExpressibleByArgument, CaseIterable {
    case clientSecretPost = "client_secret_post"
    case clientSecretBasic = "client_secret_basic"

    var value: App.ClientAuthentication { App.ClientAuthentication(rawValue: rawValue)! }
}

/// `--rate 25/s` (also N/m, N/h, or a bare number per second).
struct RateArgument: ExpressibleByArgument {
    var rate: RequestRate

    init?(argument: String) {
        guard let rate = try? RequestRate(parsing: argument) else { return nil }
        self.rate = rate
    }
}

/// An API call's method.
enum HTTPMethodArgument: String, ExpressibleByArgument, CaseIterable {
    case GET, POST, PUT, DELETE, PATCH

    init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}

/// Endpoint overrides: required for `generic`, optional for presets (the sandbox and tests use them).
struct EndpointOptions: ParsableArguments {
    @Option(help: "Authorization endpoint URL.") var authorizeUrl: String?
    @Option(help: "Token endpoint URL.") var tokenUrl: String?
    @Option(help: "API base URL.") var apiBase: String?
    @Option(help: "Refresh-token recovery endpoint URL (Jawbone).") var refreshTokenUrl: String?
    @Option(help: "Token revocation endpoint URL (RFC 7009).") var revocationUrl: String?
    @Option(help: "Device authorization endpoint URL (RFC 8628).") var deviceAuthorizationUrl: String?
    @Option(help: "Provider base URL: the preset's paths on another host (for example the sandbox).")
    var providerUrl: String?
    @Option(help: "How the client authenticates at the token endpoint.") var clientAuth: ClientAuthArgument?

    var overrides: EndpointOverrides {
        EndpointOverrides(
            authorize: authorizeUrl, token: tokenUrl, apiBase: apiBase, refreshTokenRecovery: refreshTokenUrl,
            revocation: revocationUrl, deviceAuthorization: deviceAuthorizationUrl, providerURL: providerUrl)
    }
}
