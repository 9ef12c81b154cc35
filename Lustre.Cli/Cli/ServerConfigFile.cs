using System.Text.Json;

namespace Lustre.Cli;

/// <summary>
/// Settings read from --config FILE (JSON). Keys match the long option names; an option given on the command
/// line wins over the file, and the file wins over the defaults.
/// </summary>
internal sealed class ServerConfigFile
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public string? Data { get; set; }

    public int? Osts { get; set; }

    public int? Port { get; set; }

    public string? Fsname { get; set; }

    public string? Role { get; set; }

    public string? Listen { get; set; }

    public string? Mgs { get; set; }

    public string? Advertise { get; set; }

    public int? Index { get; set; }

    public string? StripeSize { get; set; }

    public int? StripeCount { get; set; }

    /// <summary>As <c>--dom-stripesize</c>: the largest Data-on-MDT component the MDS accepts.</summary>
    public string? DomStripesize { get; set; }

    public string? SecretFile { get; set; }

    public bool? DirectReads { get; set; }

    public bool? DirectWrites { get; set; }

    /// <summary>As <c>--cached-reads</c>: copy, map or auto.</summary>
    public string? CachedReads { get; set; }

    public string? MemoryBudget { get; set; }

    /// <summary>As <c>--metrics-listen</c>: HOST:PORT of the Prometheus endpoint.</summary>
    public string? MetricsListen { get; set; }

    /// <summary>As <c>--allow-plain</c>: accept plain TCP from peers off this host.</summary>
    public bool? AllowPlain { get; set; }

    public string? KeyFile { get; set; }

    public static ServerConfigFile Load(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return new ServerConfigFile();
        }

        try
        {
            return JsonSerializer.Deserialize<ServerConfigFile>(File.ReadAllText(path), JsonOptions)
                ?? throw new InvalidDataException($"The config file '{path}' is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The config file '{path}' is not valid JSON: {ex.Message}", ex);
        }
    }
}
