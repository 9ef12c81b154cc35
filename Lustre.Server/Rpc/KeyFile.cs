using System.Security.Cryptography;
using System.Text.Json;
using Lustre.Protocol;

namespace Lustre.Server.Rpc;

/// <summary>One named key: its role and its secret (at least 32 bytes).</summary>
internal sealed record NamedKey(string Name, KeyRole Role, byte[] Secret);

/// <summary>
/// A key file (like Lustre's SSK key files): named keys, each with a role, as JSON
/// <c>{"keys": [{"name": "...", "role": "client|server|admin", "secret": "base64"}]}</c>. A server accepts every key
/// in its file, so a key is rotated by adding the new one, moving clients over, then removing the old one. Every
/// problem is an <see cref="InvalidDataException"/> naming the file and the entry.
/// </summary>
internal static class KeyFile
{
    public static IReadOnlyList<NamedKey> Load(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"key file {path} is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("keys", out var entries) || entries.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"key file {path} needs an object with a \"keys\" array");
            }

            var keys = new List<NamedKey>();
            var i = 0;
            foreach (var entry in entries.EnumerateArray())
            {
                keys.Add(Parse(entry, $"key file {path}, entry {i++}", keys));
            }

            return keys.Count > 0 ? keys : throw new InvalidDataException($"key file {path} holds no keys");
        }
    }

    private static NamedKey Parse(JsonElement entry, string where, List<NamedKey> earlier)
    {
        string? Text(string property) =>
            entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        var name = Text("name") ?? string.Empty;
        if (!SharedSecrets.IsValidKeyName(name))
        {
            throw new InvalidDataException($"{where}: name '{name}' must be 1-{SharedSecrets.MaxKeyNameLength} letters, digits, '.', '-' or '_'");
        }

        if (earlier.Any(k => k.Name == name))
        {
            throw new InvalidDataException($"{where}: name '{name}' appears twice");
        }

        var roleText = Text("role");
        var role = roleText switch
        {
            "client" => KeyRole.Client,
            "server" => KeyRole.Server,
            "admin" => KeyRole.Admin,
            _ => throw new InvalidDataException($"{where} ('{name}'): role '{roleText}' must be client, server or admin"),
        };

        byte[] secret;
        try
        {
            secret = Convert.FromBase64String(Text("secret") ?? string.Empty);
        }
        catch (FormatException ex)
        {
            throw new InvalidDataException($"{where} ('{name}'): the secret is not base64", ex);
        }

        return SharedSecrets.Problem(secret, $"{where} ('{name}')") is { } problem
            ? throw new InvalidDataException(problem)
            : new NamedKey(name, role, secret);
    }

    /// <summary>Adds a new key with 32 random bytes to the file (made, readable by its owner only, if it does not exist); returns it.</summary>
    public static NamedKey Add(string path, string name, KeyRole role)
    {
        if (!SharedSecrets.IsValidKeyName(name))
        {
            throw new ArgumentException($"key name '{name}' must be 1-{SharedSecrets.MaxKeyNameLength} letters, digits, '.', '-' or '_'", nameof(name));
        }

        var keys = File.Exists(path) ? Load(path).ToList() : [];
        if (keys.Any(k => k.Name == name))
        {
            throw new ArgumentException($"key file {path} already has a key named '{name}'", nameof(name));
        }

        var key = new NamedKey(name, role, RandomNumberGenerator.GetBytes(SharedSecrets.MinimumBytes));
        keys.Add(key);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var k in keys)
            {
                writer.WriteStartObject();
                writer.WriteString("name", k.Name);
                writer.WriteString("role", k.Role.ToString().ToLowerInvariant());
                writer.WriteString("secret", Convert.ToBase64String(k.Secret));
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        File.Move(temporary, path, overwrite: true);
        return key;
    }
}
