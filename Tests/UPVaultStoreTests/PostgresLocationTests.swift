import Testing
import UPVaultPostgres

/// The vault URL's `%XX` escapes, both ways (the shared hex digits, either case on the way in).
@Suite struct PostgresLocationTests {
    @Test func escapesAreReadInEitherCaseAndWrittenBack() throws {
        let location = try PostgresLocation(url: "postgres://us%40er@db:5433/vault%2dA%2Fb", environment: [:])
        #expect(location.user == "us@er")
        #expect(location.database == "vault-A/b")
        #expect(location.description.contains("us%40er"))
        #expect(try PostgresLocation(url: location.description, environment: [:]) == location)
    }

    @Test(arguments: ["postgres://u@db/d%zz", "postgres://u@db/d%2", "postgres://u@db/d%+1", "postgres://u@db/d%0a"])
    func aBrokenOrControlEscapeIsRefused(_ url: String) {
        #expect(throws: PostgresStoreError.self) { try PostgresLocation(url: url, environment: [:]) }
    }
}
