using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Lustre.Tests.Cluster;

/// <summary>
/// A multi-host cluster on one machine: each host is a network namespace with its own address. MGS + MDS on one
/// host, four OSS hosts, two client hosts running <c>lustre</c> commands as child processes. Needs root; skipped
/// with the reason elsewhere. Talks only to addresses inside the namespaces it made, and removes them after.
/// </summary>
public sealed partial class NetnsClusterTests(ITestOutputHelper output) : IDisposable
{
    private const int Port = 9880;
    private const string MgsHost = NetnsNetwork.Subnet + ".1";
    private readonly TempFolder _work = new("lustre-netns-");
    private readonly List<ServerProcess> _servers = [];
    private Dictionary<string, string> _clientEnvironment = [];

    public void Dispose() => _work.Dispose();

    private static string Mgs => $"{MgsHost}:{Port}";

    private static string Address => $"{Mgs}/lustre";

    private ServerProcess Serve(string ns, params string[] args)
    {
        var server = ServerProcess.StartIn(ns, ["serve", .. args, "--secret-file", Path.Combine(_work.Path, "secret")]);
        _servers.Add(server);
        return server;
    }

    /// <summary>Runs one <c>lustre</c> client command in a client namespace; fails with its output unless it exits 0.</summary>
    private async Task<string> LustreAsync(string ns, params string[] args)
    {
        var (exit, text) = await TryLustreAsync(ns, args);
        Assert.True(exit == 0, $"lustre {string.Join(' ', args)} in {ns} exited {exit}:\n{text}");
        return text;
    }

    private async Task<(int ExitCode, string Output)> TryLustreAsync(string ns, params string[] args)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var result = await NetnsNetwork.RunAsync("ip", ["netns", "exec", ns, dotnet, Path.Combine(AppContext.BaseDirectory, "lustre.dll"), .. args, "--mgs", Address], _clientEnvironment, TimeSpan.FromSeconds(60));
        output.WriteLine($"[{ns}] lustre {string.Join(' ', args)} -> {result.ExitCode}\n{result.Output.TrimEnd()}");
        return result;
    }

    private static void WriteRandomFile(string path, int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>A client's local tree: one large striped file and a dataset of shards.</summary>
    private string MakeSource(int client)
    {
        var root = Path.Combine(_work.Path, "src", $"c{client}");
        WriteRandomFile(Path.Combine(root, "big.bin"), 12 << 20, 100 + client);
        for (var s = 0; s < 6; s++)
        {
            WriteRandomFile(Path.Combine(root, "dataset", $"shard-{s:D5}.tar"), (512 << 10) + (s * 4099), (client * 100) + s);
        }

        return root;
    }

    private static void AssertSameTree(string expected, string actual)
    {
        var files = Directory.GetFiles(expected, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var copy = Path.Combine(actual, Path.GetRelativePath(expected, file));
            Assert.True(File.Exists(copy), $"{copy} is missing");
            Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(File.ReadAllBytes(copy)), $"{copy} differs from {file}");
        }

        Assert.Equal(files.Length, Directory.GetFiles(actual, "*", SearchOption.AllDirectories).Length);
    }

    private static int[] OstsOf(string getstripe) =>
        [.. ObjectRow().Matches(getstripe).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Copies a small file in as <c>/DIR/fN</c> until its layout satisfies <paramref name="wanted"/> (the MDS re-reads the MGS every 2 s).</summary>
    private async Task<string> CopyUntilPlacedAsync(string ns, string directory, Func<int[], bool> wanted)
    {
        var local = Path.Combine(_work.Path, "small.bin");
        WriteRandomFile(local, 300_000, 7);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        for (var i = 0; ; i++)
        {
            var path = $"{directory}/f{i}";
            await LustreAsync(ns, "cp", local, $"lustre:{path}");
            var osts = OstsOf(await LustreAsync(ns, "lfs", "getstripe", path));
            if (wanted(osts))
            {
                return path;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no file in {directory} was placed as wanted within 20 s; last on OSTs [{string.Join(',', osts)}]");
        }
    }

    [NetnsFact]
    public async Task Clients_on_two_hosts_write_and_read_striped_files_on_four_OSS_hosts_and_targets_join_and_leave()
    {
        NetnsNetwork? network = null;
        try
        {
            network = await NetnsNetwork.CreateAsync();
            await File.WriteAllTextAsync(Path.Combine(_work.Path, "secret"), "netns-test-secret-0123456789abcdef-" + network.RunId);
            _clientEnvironment = new() { ["LUSTRE_SECRET"] = "netns-test-secret-0123456789abcdef-" + network.RunId };
            var mds = await network.AddHostAsync("mds", 1);
            var oss = new string[5];
            for (var i = 0; i < oss.Length; i++)
            {
                oss[i] = await network.AddHostAsync($"oss{i}", 11 + i);
            }

            string[] clients = [await network.AddHostAsync("c0", 21), await network.AddHostAsync("c1", 22)];

            // MGS and MDS on one host, one OSS (one OST) per OSS host; every server listens on its host's address.
            var mgs = Serve(mds, "--role", "mgs", "--data", Path.Combine(_work.Path, "mgs"), "--listen", Mgs);
            await mgs.WaitForAddressAsync();
            var started = new List<ServerProcess> { Serve(mds, "--role", "mds", "--data", Path.Combine(_work.Path, "mds"), "--listen", $"{MgsHost}:{Port + 1}", "--mgs", Mgs) };
            for (var i = 0; i < 4; i++)
            {
                started.Add(Serve(oss[i], "--role", "oss", "--data", Path.Combine(_work.Path, $"oss{i}"), "--listen", $"{NetnsNetwork.Subnet}.{11 + i}:{Port + 2}", "--mgs", Mgs, "--index", $"{i}"));
            }

            await Task.WhenAll(started.Select(s => s.WaitUntilUpAsync()));
            Assert.Contains($"OST0003 up on {NetnsNetwork.Subnet}.14:{Port + 2}", started[^1].Output, StringComparison.Ordinal);

            // Every new file is striped over all OSTs in 256 KiB units.
            await LustreAsync(clients[0], "lfs", "setstripe", "-c", "-1", "-S", "256K", "/");
            var df = await LustreAsync(clients[1], "lfs", "df");
            Assert.Equal(4, OstRow().Matches(df).Count);

            // Both clients write at once, and the MDT is backed up online while they do.
            var sources = new[] { MakeSource(0), MakeSource(1) };
            var writes = Enumerable.Range(0, 2).Select(c => LustreAsync(clients[c], "cp", "-r", sources[c], "lustre:/")).ToList();
            var backup = LustreAsync(clients[1], "lctl", "backup-mdt", "during-writes");
            await Task.WhenAll([.. writes, backup]);
            Assert.Matches(@"backup at commit \d+ in \S+/mds/mdt-backups/during-writes", await backup);
            Assert.Equal([0, 1, 2, 3], OstsOf(await LustreAsync(clients[0], "lfs", "getstripe", "/c1/big.bin")).Order());

            // Each client reads the other's files, at once, and they are byte-identical to what was written.
            var reads = Enumerable.Range(0, 2).Select(c => LustreAsync(clients[c], "cp", "-r", $"lustre:/c{1 - c}", Path.Combine(_work.Path, $"read-by-c{c}"))).ToList();
            await Task.WhenAll(reads);
            AssertSameTree(sources[1], Path.Combine(_work.Path, "read-by-c0"));
            AssertSameTree(sources[0], Path.Combine(_work.Path, "read-by-c1"));

            // A fifth OSS host joins the running cluster: bound to the wildcard address, it advertises its real one.
            var joined = Serve(oss[4], "--role", "oss", "--data", Path.Combine(_work.Path, "oss4"), "--listen", $"0.0.0.0:{Port + 2}", "--advertise", $"{NetnsNetwork.Subnet}.15:{Port + 2}", "--mgs", Mgs, "--index", "4");
            await joined.WaitUntilUpAsync();
            Assert.Equal(5, OstRow().Matches(await LustreAsync(clients[1], "lfs", "df")).Count);
            await LustreAsync(clients[0], "mkdir", "/joined");
            var onNew = await CopyUntilPlacedAsync(clients[0], "/joined", osts => osts.Contains(4));
            await LustreAsync(clients[1], "cp", $"lustre:{onNew}", Path.Combine(_work.Path, "from-ost4.bin"));
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(_work.Path, "small.bin")), await File.ReadAllBytesAsync(Path.Combine(_work.Path, "from-ost4.bin")));

            // Deactivated, it receives no new objects; its data stays readable.
            await LustreAsync(clients[1], "lctl", "deactivate", "OST0004");
            Assert.Contains("lustre-OST0004_UUID  : inactive device", await LustreAsync(clients[0], "lfs", "df"), StringComparison.Ordinal);
            await LustreAsync(clients[0], "mkdir", "/left");
            var placed = await CopyUntilPlacedAsync(clients[0], "/left", osts => !osts.Contains(4));
            Assert.Equal([0, 1, 2, 3], OstsOf(await LustreAsync(clients[1], "lfs", "getstripe", placed)).Order());
            await LustreAsync(clients[1], "cat", onNew);
        }
        finally
        {
            foreach (var server in _servers)
            {
                await server.DisposeAsync();
            }

            if (network is not null)
            {
                await network.DisposeAsync();
                Assert.Empty(await network.LeftoversAsync());
            }
        }
    }

    [GeneratedRegex(@"^\s+(\d+)\s+\d+\s+0x[0-9a-f]+\s+\d+\s*$", RegexOptions.Multiline)]
    private static partial Regex ObjectRow();

    [GeneratedRegex(@"^lustre-OST[0-9a-f]{4}_UUID", RegexOptions.Multiline)]
    private static partial Regex OstRow();
}
