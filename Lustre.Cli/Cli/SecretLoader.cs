using System.Text;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>
/// Loads the shared secret from a file (--secret-file) or the LUSTRE_SECRET environment variable. Never from the
/// command line, where any user could read it from the process list, and never into a log.
/// </summary>
internal static class SecretLoader
{
    public const string EnvironmentVariable = "LUSTRE_SECRET";

    public static byte[]? Load(string? secretFile)
    {
        if (!string.IsNullOrEmpty(secretFile))
        {
            if (!File.Exists(secretFile))
            {
                throw new FileNotFoundException($"The secret file '{secretFile}' does not exist.", secretFile);
            }

            return Checked(File.ReadAllText(secretFile), $"The secret in '{secretFile}'");
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrEmpty(fromEnvironment) ? null : Checked(fromEnvironment, EnvironmentVariable);
    }

    /// <summary>The secret without the whitespace around it, when what is left is long enough to be one.</summary>
    private static byte[] Checked(string text, string source)
    {
        var secret = Encoding.UTF8.GetBytes(text.Trim());
        return SharedSecrets.Problem(secret, source) is { } problem ? throw new InvalidDataException(problem) : secret;
    }
}
