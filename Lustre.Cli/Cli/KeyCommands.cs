using System.CommandLine;
using Lustre.Server.Rpc;

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
        var create = new Command("new", "Add a new random key with a role to a key file; servers read the file with --key-file")
        {
            role, name, file,
        };
        create.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var key = KeyFile.Add(path, parse.GetValue(name)!, parse.GetValue(role) switch { "server" => KeyRole.Server, "admin" => KeyRole.Admin, _ => KeyRole.Client });
            Console.WriteLine($"added {key.Role.ToString().ToLowerInvariant()} key '{key.Name}' to {path}");
            return 0;
        });
        return new Command("key", "Named keys with roles for a cluster's servers and clients") { create };
    }
}
