import LifeguardCore

Lifeguard.main(arguments: Array(CommandLine.arguments.dropFirst()), environment: .current())
