using System.Text;
using Lustre.Protocol;
using Lustre.Server.Security;

namespace Lustre.Cli;

/// <summary>
/// Loads the shared secret from a file (--secret-file) or the LUSTRE_SECRET environment variable. Never from the
/// command line, where any user could read it from the process list, and never into a log.
/// </summary>
internal static class SecretLoader
{
    public const string EnvironmentVariable = "LUSTRE_SECRET";

    /// <summary>A key file for the command line's client commands; with <see cref="KeyNameVariable"/>, instead of LUSTRE_SECRET.</summary>
    public const string KeyFileVariable = "LUSTRE_KEY_FILE";

    /// <summary>The name of the key in <see cref="KeyFileVariable"/> the client commands prove.</summary>
    public const string KeyNameVariable = "LUSTRE_KEY";

    /// <summary>The named key the client commands use (LUSTRE_KEY_FILE and LUSTRE_KEY), or null to use LUSTRE_SECRET.</summary>
    public static Server.Security.NamedKey? LoadClientKey()
    {
        var file = Environment.GetEnvironmentVariable(KeyFileVariable);
        var name = Environment.GetEnvironmentVariable(KeyNameVariable);
        if (string.IsNullOrEmpty(file) && string.IsNullOrEmpty(name))
        {
            return null;
        }

        if (string.IsNullOrEmpty(file) || string.IsNullOrEmpty(name))
        {
            throw new ArgumentException($"{KeyFileVariable} and {KeyNameVariable} go together: the key file, and the name of the key in it to use.");
        }

        return Server.Security.KeyFile.Load(file).FirstOrDefault(k => k.Name == name)
            ?? throw new ArgumentException($"the key file {file} has no key named '{name}' ({KeyNameVariable}).");
    }

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
