import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// Parses the arguments, runs the command, and turns every outcome into an exit status and at most one line on
/// standard error.
///
/// ArgumentParser's own usage errors would exit with 64 (`EX_USAGE`); here they exit with 2, like every other
/// usage or configuration error. Help (`--help`, `help`) goes to standard output and exits with 0.
enum CommandRunner {
    static func run(_ arguments: [String]) async -> Int32 {
        var command: any ParsableCommand
        do {
            command = try OAuthBrokerCommand.parseAsRoot(arguments)
        } catch {
            return report(parsingError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return ToolExitCode.success.rawValue
        } catch let error as BrokerError {
            let status = ToolExitCode(for: error)
            Output.error(message(for: error, status: status))
            return status.rawValue
        } catch {
            return report(parsingError: error)
        }
    }

    /// Reports an ArgumentParser error (or anything else thrown outside the broker).
    private static func report(parsingError error: any Error) -> Int32 {
        let code = OAuthBrokerCommand.exitCode(for: error)
        if code == .success {
            // `--help`, `help <command>`, `--version`: the text belongs on standard output.
            Output.standardOutput(OAuthBrokerCommand.fullMessage(for: error) + "\n")
            return ToolExitCode.success.rawValue
        }
        if let exit = error as? ExitCode { return exit.rawValue }
        if error is CancellationError {
            Output.error("oauth-broker: error: cancelled")
            return ToolExitCode.failure.rawValue
        }
        let text = OAuthBrokerCommand.message(for: error)
        let firstLine = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? text
        if code == .validationFailure {
            Output.error("oauth-broker: error: \(firstLine) (see 'oauth-broker help')")
            return ToolExitCode.usage.rawValue
        }
        Output.error("oauth-broker: error: \(firstLine)")
        return ToolExitCode.failure.rawValue
    }

    /// One line: the error's description (code, message, OAuth error, status, provider, redacted key; never a
    /// secret) and a hint for what to do next.
    static func message(for error: BrokerError, status: ToolExitCode) -> String {
        var line = "oauth-broker: error: \(error.description)"
        switch status {
        case .reauthorizationRequired:
            line += " (a user must authorize again: oauth-broker authorize)"
        case .unavailable:
            line += " (temporary; try again later)"
        default:
            break
        }
        return line
    }
}
