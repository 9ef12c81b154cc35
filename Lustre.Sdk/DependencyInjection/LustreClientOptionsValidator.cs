using Lustre.Client;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Checks one registered client's address and options through the options system, so <c>ValidateOnStart</c> stops a
/// host whose configuration is wrong at its start, with every fault named, instead of at the client's first use.
/// </summary>
internal sealed class LustreClientOptionsValidator(string clientName, Func<string?> address, string addressSource) : IValidateOptions<LustreClientOptions>
{
    public ValidateOptionsResult Validate(string? name, LustreClientOptions options)
    {
        if (name != clientName)
        {
            return ValidateOptionsResult.Skip;
        }

        var client = clientName.Length == 0 ? "Lustre client" : $"Lustre client '{clientName}'";
        var failures = new List<string>();
        var value = address();
        if (string.IsNullOrWhiteSpace(value))
        {
            failures.Add($"{client}: {addressSource} is not set; give the MGS address and filesystem name as host:port/fsname.");
        }
        else
        {
            try
            {
                LustreAddress.Parse(value);
            }
            catch (ArgumentException ex)
            {
                failures.Add($"{client}: {addressSource}: {ex.Message}");
            }
        }

        try
        {
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            failures.Add($"{client}: {ex.Message}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
