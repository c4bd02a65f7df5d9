import Foundation

/// Unbuffered writes to standard output and standard error.
///
/// Error text is reduced to one line: control characters (a newline inside a provider's error code, say) become
/// spaces.
enum Output {
    static func standardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Writes `line` (made single-line) and a newline to standard output.
    static func line(_ line: String = "") {
        standardOutput(line + "\n")
    }

    /// Writes `line` (made single-line) and a newline to standard error.
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((singleLine(line) + "\n").utf8))
    }

    static func singleLine(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }
}
