using System.CommandLine;
using Lustre.Server.Rpc;
using Lustre.Server.Security;

namespace Lustre.Cli;

/// <summary><c>lustre key new --role client|server|admin --name NAME --file FILE</c>: adds a named key to a key file (Lustre's <c>lgss_sk</c>).</summary>
internal static class KeyCommands
{
    public static Command Create()
    {
        var role = new Option<string>("--role") { Description = "client (files), server (registering targets, destroying objects) or admin (activate, deactivate, backup)", Required = true };
        role.AcceptOnlyFromAmong("client", "server", "admin");
        var name = new Option<string>("--name") { Description = "The key's name, 1-64 letters, digits, '.', '-' or '_'; clients give it as LUSTRE_KEY", Required = true };
        var file = new Option<string>("--file") { Description = "The key file to add it to (made, readable by its owner only, if it does not exist)", Required = true };
        var uid = new Option<uint?>("--uid") { Description = "A client key's user id on the cluster (default 0: root, squashed to 65534 unless --trusted)" };
        var gid = new Option<uint?>("--gid") { Description = "A client key's primary group id (default: the uid)" };
        var groups = new Option<uint[]>("--groups") { Description = "A client key's supplementary group ids", AllowMultipleArgumentsPerToken = true };
        var trusted = new Option<bool>("--trusted") { Description = "A client key with uid 0 acts as root instead of being squashed (Lustre's nodemap admin)" };
        var create = new Command("new", "Add a new random key with a role to a key file; servers read the file with --key-file")
        {
            role, name, file, uid, gid, groups, trusted,
        };
        create.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var keyRole = parse.GetValue(role) switch { "server" => KeyRole.Server, "admin" => KeyRole.Admin, _ => KeyRole.Client };
            var identityGiven = parse.GetValue(uid) is not null || parse.GetValue(gid) is not null || parse.GetValue(groups) is { Length: > 0 } || parse.GetValue(trusted);
            if (keyRole != KeyRole.Client && identityGiven)
            {
                Console.Error.WriteLine($"lustre key new: --uid, --gid, --groups and --trusted are for client keys; {parse.GetValue(role)} keys act as root");
                return 2;
            }

            ClientIdentity? identity = null;
            if (keyRole == KeyRole.Client)
            {
                var user = parse.GetValue(uid) ?? 0;
                identity = new ClientIdentity(user, parse.GetValue(gid) ?? user, parse.GetValue(groups) ?? []);
            }

            var key = KeyFile.Add(path, parse.GetValue(name)!, keyRole, identity, parse.GetValue(trusted));
            var acts = key.Role == KeyRole.Client ? $", acting as {key.EffectiveIdentity}" : string.Empty;
            Console.WriteLine($"added {key.Role.ToString().ToLowerInvariant()} key '{key.Name}' to {path}{acts}");
            return 0;
        });
        return new Command("key", "Named keys with roles for a cluster's servers and clients") { create };
    }
}
