import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `oauth-broker list`: shows what a store holds, without tokens.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List stored records: key, tenant, principal, scopes, status, expiry and version — never a token.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "Only this tenant's records.")
    var tenant: String?

    @Option(help: "table (aligned columns) or json (an array of objects).")
    var format: Format = .table

    func run() async throws {
        let tenantID: TenantID?
        do {
            tenantID = try tenant.map(TenantID.init)
        } catch let error as BrokerError {
            throw BrokerError(error.code, "--tenant: \(error.message)")
        }
        let (_, store) = try await storeOptions.open()
        let summaries = try await RecordSummary.all(in: store, tenant: tenantID)
        switch format {
        case .json:
            Output.standardOutput(RecordSummary.json(summaries))
        case .table where summaries.isEmpty:
            Output.line("no records" + (tenant.map { " for tenant \($0)" } ?? ""))
        case .table:
            Output.standardOutput(RecordSummary.table(summaries))
        }
    }
}
