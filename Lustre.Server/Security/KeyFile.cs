using System.Security.Cryptography;
using System.Text.Json;
using Lustre.Protocol;

namespace Lustre.Server.Security;

/// <summary>
/// One named key: its role, its secret (at least 32 bytes) and, for a client key, the identity it acts as
/// (<paramref name="Identity"/>; uid 0 is squashed to <see cref="ClientIdentity.Nobody"/> unless <paramref name="Trusted"/>).
/// </summary>
internal sealed record NamedKey(string Name, KeyRole Role, byte[] Secret, ClientIdentity? Identity = null, bool Trusted = false)
{
    /// <summary>Who requests proved with this key act as: server and admin keys as root, a client key as its identity, root squashed.</summary>
    public ClientIdentity EffectiveIdentity => Role != KeyRole.Client
        ? ClientIdentity.Root
        : Identity is not { } identity || (identity.IsRoot && !Trusted) ? ClientIdentity.Squashed : identity;
}

/// <summary>
/// A key file (like Lustre's SSK key files): named keys, each with a role, as JSON
/// <c>{"keys": [{"name": "...", "role": "client|server|admin", "secret": "base64"}]}</c>; a client key also has
/// <c>"uid"</c>, <c>"gid"</c>, optional <c>"groups": [..]</c> and <c>"trusted": true</c> (its uid 0 is not squashed:
/// Lustre's nodemap <c>admin</c> property), the identity the MDS enforces permissions for. A server accepts every key
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

        if (SharedSecrets.Problem(secret, $"{where} ('{name}')") is { } problem)
        {
            throw new InvalidDataException(problem);
        }

        var hasIdentity = entry.TryGetProperty("uid", out _) || entry.TryGetProperty("gid", out _) || entry.TryGetProperty("groups", out _) || entry.TryGetProperty("trusted", out _);
        if (role != KeyRole.Client)
        {
            return hasIdentity
                ? throw new InvalidDataException($"{where} ('{name}'): only client keys carry uid, gid, groups or trusted; {roleText} keys act as root")
                : new NamedKey(name, role, secret);
        }

        var uid = Id(entry, "uid", where, name);
        var gid = Id(entry, "gid", where, name);
        var groups = new List<uint>();
        if (entry.TryGetProperty("groups", out var list))
        {
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() > ClientIdentity.MaxGroups)
            {
                throw new InvalidDataException($"{where} ('{name}'): groups must be an array of at most {ClientIdentity.MaxGroups} group ids");
            }

            foreach (var group in list.EnumerateArray())
            {
                groups.Add(group.ValueKind == JsonValueKind.Number && group.TryGetUInt32(out var g)
                    ? g
                    : throw new InvalidDataException($"{where} ('{name}'): group '{group}' is not a group id (0-{uint.MaxValue})"));
            }
        }

        var trusted = entry.TryGetProperty("trusted", out var trust) && (trust.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? trust.GetBoolean()
            : throw new InvalidDataException($"{where} ('{name}'): trusted must be true or false"));
        return new NamedKey(name, role, secret, new ClientIdentity(uid, gid, [.. groups]), trusted);
    }

    /// <summary>A uid or gid of a client key: a number 0-4294967295, 0 (root, squashed unless trusted) when absent.</summary>
    private static uint Id(JsonElement entry, string property, string where, string name) =>
        !entry.TryGetProperty(property, out var value) ? 0
        : value.ValueKind == JsonValueKind.Number && value.TryGetUInt32(out var id) ? id
        : throw new InvalidDataException($"{where} ('{name}'): {property} '{value}' is not a number 0-{uint.MaxValue}");

    /// <summary>
    /// Adds a new key with 32 random bytes to the file (made, readable by its owner only, if it does not exist); returns
    /// it. A client key acts as <paramref name="identity"/> (root, squashed unless <paramref name="trusted"/>, when null).
    /// </summary>
    public static NamedKey Add(string path, string name, KeyRole role, ClientIdentity? identity = null, bool trusted = false)
    {
        if (role != KeyRole.Client && (identity is not null || trusted))
        {
            throw new ArgumentException($"only client keys carry an identity; {role.ToString().ToLowerInvariant()} keys act as root", nameof(identity));
        }

        if (identity is { Groups.Length: > ClientIdentity.MaxGroups })
        {
            throw new ArgumentException($"a key carries at most {ClientIdentity.MaxGroups} groups", nameof(identity));
        }

        if (!SharedSecrets.IsValidKeyName(name))
        {
            throw new ArgumentException($"key name '{name}' must be 1-{SharedSecrets.MaxKeyNameLength} letters, digits, '.', '-' or '_'", nameof(name));
        }

        var keys = File.Exists(path) ? Load(path).ToList() : [];
        if (keys.Any(k => k.Name == name))
        {
            throw new ArgumentException($"key file {path} already has a key named '{name}'", nameof(name));
        }

        var key = new NamedKey(name, role, RandomNumberGenerator.GetBytes(SharedSecrets.MinimumBytes), role == KeyRole.Client ? identity ?? ClientIdentity.Root : null, trusted);
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
                if (k.Identity is { } id)
                {
                    writer.WriteNumber("uid", id.Uid);
                    writer.WriteNumber("gid", id.Gid);
                    if (id.Groups.Length > 0)
                    {
                        writer.WriteStartArray("groups");
                        foreach (var group in id.Groups)
                        {
                            writer.WriteNumberValue(group);
                        }

                        writer.WriteEndArray();
                    }

                    if (k.Trusted)
                    {
                        writer.WriteBoolean("trusted", true);
                    }
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        File.Move(temporary, path, overwrite: true);
        return key;
    }
}
