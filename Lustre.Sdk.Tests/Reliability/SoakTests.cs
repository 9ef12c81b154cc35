using System.Diagnostics;
using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Tests.Cluster;
using Xunit.Abstractions;

namespace Lustre.Tests.Reliability;

/// <summary>
/// Load: N clients × M seconds of mixed data and metadata operations against a `lustre up` child process on
/// loopback, every result checked against each client's own model, the server's resident memory sampled every
/// second and required to stay flat. CI: 8 clients × 10 s. The full soak:
/// <c>LUSTRE_SOAK_CLIENTS=64 LUSTRE_SOAK_SECONDS=600 dotnet test Lustre.Sdk.Tests --filter Soak</c>.
/// </summary>
public sealed class SoakTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _data = new("lustre-soak-");

    private static int Clients => Env("LUSTRE_SOAK_CLIENTS", 8);

    private static int Seconds => Env("LUSTRE_SOAK_SECONDS", 10);

    private static int Env(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : fallback;

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Many_clients_doing_mixed_work_get_every_result_right_and_server_memory_stays_flat()
    {
        await using var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "4");
        var address = await server.WaitForAddressAsync();
        var deadline = Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(Seconds);
        var counts = new long[Clients];
        var samples = new List<(double Seconds, long Rss)>();

        var clients = Enumerable.Range(0, Clients).Select(i => RunClientAsync(address, i, () => deadline.Elapsed < duration, counts)).ToArray();
        var all = Task.WhenAll(clients);
        while (!all.IsCompleted)
        {
            Assert.False(server.HasExited, $"the server exited:\n{server.Output}");
            samples.Add((deadline.Elapsed.TotalSeconds, server.ResidentBytes()));
            await Task.WhenAny(all, Task.Delay(1000));
        }

        await all; // any wrong result or error fails here, with the client's seed
        var operations = counts.Sum();

        var rss = samples.Select(s => s.Rss).Where(r => r > 0).ToList();
        var quarter = Math.Max(1, rss.Count / 4);
        var early = rss.Skip(quarter).Take(quarter).DefaultIfEmpty(0).Average();
        var late = rss.Skip(rss.Count - quarter).DefaultIfEmpty(0).Average();
        output.WriteLine($"{Clients} clients × {Seconds} s: {operations} checked operations ({operations / Math.Max(1, deadline.Elapsed.TotalSeconds):0} /s), 0 errors");
        output.WriteLine($"server RSS (MiB) per second: {string.Join(" ", rss.Select(r => (r >> 20).ToString(CultureInfo.InvariantCulture)))}");
        output.WriteLine($"server RSS second quarter {early / (1 << 20):0} MiB, last quarter {late / (1 << 20):0} MiB, peak {rss.DefaultIfEmpty(0).Max() >> 20} MiB");

        // Every file was deleted at the end: once the destroy queue has run, the OSTs hold no objects.
        await using (var checker = new LustreClient(address))
        {
            var waited = Stopwatch.StartNew();
            long objects;
            while ((objects = (await checker.GetUsageAsync()).Where(u => !u.IsMetadataTarget).Sum(u => u.Objects)) > 0)
            {
                if (waited.Elapsed > TimeSpan.FromSeconds(60))
                {
                    var onDisk = Directory.EnumerateFiles(_data.Path, "*", SearchOption.AllDirectories).Count(f => f.Contains("/objects/", StringComparison.Ordinal));
                    Assert.Fail($"{objects} objects by statfs, {onDisk} object files on disk 60 s after every file was deleted");
                }

                await Task.Delay(250);
            }

            output.WriteLine($"every OST object destroyed {waited.Elapsed.TotalSeconds:0.0} s after the last unlink");
        }

        Assert.True(operations > Clients, "the clients did (almost) nothing");
        Assert.True(late <= (early * 1.5) + (96L << 20), $"server memory grew from {early / (1 << 20):0} MiB to {late / (1 << 20):0} MiB");
        Assert.Equal(0, await server.TerminateAsync());
    }

    private static async Task RunClientAsync(string address, int index, Func<bool> running, long[] counts)
    {
        var seed = 4242 + index;
        var random = new Random(seed);
        await using var client = new LustreClient(address);
        var root = $"/c{index}";
        var files = new Dictionary<string, byte[]>();
        var dirs = new HashSet<string>();
        var names = 0;
        try
        {
            await client.CreateDirectoryAsync(root);
            while (running())
            {
                var choice = files.Count > 12 ? 90 : random.Next(100);
                if (choice < 30 || files.Count == 0)
                {
                    var path = $"{root}/f{names++}";
                    var data = new byte[random.Next(5) == 0 ? random.Next(64) : random.Next(1 << 20)];
                    random.NextBytes(data);
                    var layout = FileLayout.Raid0(random.Next(2) == 0 ? 64 << 10 : 1 << 20, random.Next(1, 5));
                    if (random.Next(2) == 0)
                    {
                        await using var stream = await client.OpenStreamAsync(path, FileMode.CreateNew, FileAccess.Write, layout);
                        await stream.WriteAsync(data);
                    }
                    else
                    {
                        await using var file = await client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
                        await file.WriteAtAsync(0, data);
                        await file.FlushAsync();
                    }

                    files[path] = data;
                }
                else if (choice < 55)
                {
                    var (path, data) = files.ElementAt(random.Next(files.Count));
                    await using var file = await client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read);
                    Check(file.Length == data.Length, $"{path}: length {file.Length}, expected {data.Length}");
                    var back = new byte[data.Length];
                    Check(await file.ReadAtAsync(0, back) == data.Length, $"{path}: short read");
                    Check(back.AsSpan().SequenceEqual(data), $"{path}: content differs");
                }
                else if (choice < 65)
                {
                    var (path, data) = files.ElementAt(random.Next(files.Count));
                    var info = await client.GetInfoAsync(path);
                    Check(info.Length == data.Length && !info.IsDirectory, $"{path}: stat says {info.Length} bytes, directory {info.IsDirectory}");
                }
                else if (choice < 75)
                {
                    var (from, data) = files.ElementAt(random.Next(files.Count));
                    var to = $"{root}/r{names++}";
                    await client.RenameAsync(from, to);
                    files.Remove(from);
                    files[to] = data;
                    Check(!await client.ExistsAsync(from), $"{from} still exists after rename");
                }
                else if (choice < 82)
                {
                    var listed = new HashSet<string>();
                    await foreach (var entry in client.EnumerateDirectoryAsync(root))
                    {
                        listed.Add(entry.Path);
                    }

                    Check(listed.SetEquals(files.Keys.Concat(dirs)), $"{root} lists {listed.Count} entries, the model has {files.Count + dirs.Count}");
                }
                else if (choice < 88)
                {
                    if (dirs.Count > 0 && random.Next(2) == 0)
                    {
                        var dir = dirs.First();
                        await client.DeleteDirectoryAsync(dir);
                        dirs.Remove(dir);
                    }
                    else
                    {
                        var dir = $"{root}/d{names++}";
                        await client.CreateDirectoryAsync(dir);
                        dirs.Add(dir);
                    }
                }
                else
                {
                    var (path, _) = files.ElementAt(random.Next(files.Count));
                    await client.DeleteFileAsync(path);
                    files.Remove(path);
                    Check(!await client.ExistsAsync(path), $"{path} still exists after unlink");
                }

                Interlocked.Increment(ref counts[index]);
            }

            foreach (var path in files.Keys)
            {
                await client.DeleteFileAsync(path);
            }

            foreach (var dir in dirs)
            {
                await client.DeleteDirectoryAsync(dir);
            }
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"soak client {index} (seed {seed}) failed after {counts[index]} operations: {ex.Message}", ex);
        }
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
