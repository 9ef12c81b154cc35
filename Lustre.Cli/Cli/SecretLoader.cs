using System.Text;

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

            var text = File.ReadAllText(secretFile).Trim();
            return text.Length >= 16 ? Encoding.UTF8.GetBytes(text) : throw new InvalidDataException($"The secret in '{secretFile}' is shorter than 16 characters.");
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrEmpty(fromEnvironment))
        {
            return null;
        }

        return fromEnvironment.Length >= 16
            ? Encoding.UTF8.GetBytes(fromEnvironment.Trim())
            : throw new InvalidDataException($"{EnvironmentVariable} is shorter than 16 characters.");
    }
}
