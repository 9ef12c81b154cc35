using System.Text.RegularExpressions;
using Lustre.Client;
using Lustre.Layouts;

namespace Lustre.Tests.Cluster;

/// <summary>The servers as separate processes: restart after SIGTERM and after SIGKILL, and a cluster of one-role processes.</summary>
public sealed class ProcessClusterTests : IDisposable
{
    private const int Seed = 20261126;
    private readonly TempFolder _data = new("lustre-proc-");

    public void Dispose() => _data.Dispose();

    /// <summary>Deterministic content for any range of a file, so 1 GiB never has to sit in memory.</summary>
    private static void Fill(Span<byte> destination, long offset)
    {
        for (var i = 0; i < destination.Length; i++)
        {
            var x = (ulong)(offset + i) * 0x9E3779B97F4A7C15UL ^ Seed;
            destination[i] = (byte)(x >> 56 ^ x >> 24);
        }
    }

    private static async Task WriteFileAsync(LustreClient client, string path, long size)
    {
        var chunk = new byte[32 << 20];
        await using var file = await client.OpenFileAsync(path, FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, -1));
        for (long offset = 0; offset < size; offset += chunk.Length)
        {
            var length = (int)Math.Min(chunk.Length, size - offset);
            Fill(chunk.AsSpan(0, length), offset);
            await file.WriteAtAsync(offset, chunk.AsMemory(0, length));
        }

        await file.FlushAsync();
    }

    private static async Task VerifyFileAsync(LustreClient client, string path, long size)
    {
        var chunk = new byte[32 << 20];
        var expected = new byte[chunk.Length];
        await using var file = await client.OpenFileAsync(path);
        Assert.Equal(size, file.Length);
        for (long offset = 0; offset < size; offset += chunk.Length)
        {
            var length = (int)Math.Min(chunk.Length, size - offset);
            Assert.Equal(length, await file.ReadAtAsync(offset, chunk.AsMemory(0, length)));
            Fill(expected.AsSpan(0, length), offset);
            Assert.True(expected.AsSpan(0, length).SequenceEqual(chunk.AsSpan(0, length)), $"{path}: bytes differ in the 32 MiB at offset {offset}");
        }
    }

    [Fact]
    public async Task Data_survives_SIGTERM_and_SIGKILL_restarts_of_lustre_up()
    {
        const long oneGiB = 1L << 30;
        string address;
        await using (var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "4"))
        {
            address = await server.WaitForAddressAsync();
            await using (var client = new LustreClient(address))
            {
                await client.CreateDirectoryAsync("/ckpt");
                await WriteFileAsync(client, "/ckpt/one-gib.bin", oneGiB);
            }

            Assert.Equal(0, await server.TerminateAsync());
            Assert.Contains("stopped cleanly", server.Output, StringComparison.Ordinal);
        }

        // Same data folder, new port: everything comes back, and a second file is flushed before a SIGKILL.
        await using (var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "4"))
        {
            address = await server.WaitForAddressAsync();
            await using (var client = new LustreClient(address))
            {
                await VerifyFileAsync(client, "/ckpt/one-gib.bin", oneGiB);
                await WriteFileAsync(client, "/ckpt/flushed.bin", 96L << 20);
                await client.RenameAsync("/ckpt/flushed.bin", "/ckpt/renamed.bin");
            }

            await server.KillAsync();
        }

        await using (var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "4"))
        {
            address = await server.WaitForAddressAsync();
            await using var client = new LustreClient(address);
            await VerifyFileAsync(client, "/ckpt/renamed.bin", 96L << 20);
            await VerifyFileAsync(client, "/ckpt/one-gib.bin", oneGiB);
            Assert.False(await client.ExistsAsync("/ckpt/flushed.bin"));
        }
    }

    [Fact]
    public async Task Up_takes_its_Data_on_MDT_limit_and_acknowledged_DoM_writes_survive_a_SIGKILL()
    {
        var data = new byte[100_000];
        new Random(Seed).NextBytes(data);
        var dom = FileLayout.Composite([LayoutComponent.DataOnMdt(128 << 10), new LayoutComponent(128 << 10, LayoutComponent.Eof, 1 << 20, 1)]);
        await using (var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "1", "--dom-stripesize", "128K"))
        {
            var address = await server.WaitForAddressAsync();
            await using var client = new LustreClient(address);
            var refused = await Assert.ThrowsAsync<LustreServerException>(() => client.CreateFileAsync("/big", FileLayout.Composite([LayoutComponent.DataOnMdt(256 << 10)])));
            Assert.Equal(Lustre.Protocol.LustreErrno.EFBIG, refused.Errno);
            Assert.Contains("131072", refused.Message, StringComparison.Ordinal);

            // Acknowledged once WriteAtAsync returns: no flush, no close, then the whole node is killed.
            var file = await client.OpenFileAsync("/small", FileMode.CreateNew, layout: dom);
            await file.WriteAtAsync(0, data);
            await server.KillAsync();
        }

        await using (var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "1"))
        {
            await using var client = new LustreClient(await server.WaitForAddressAsync());
            await using var file = await client.OpenFileAsync("/small", FileMode.Open, FileAccess.Read);
            var back = new byte[data.Length];
            Assert.Equal(data.Length, await file.ReadAtAsync(0, back));
            Assert.Equal(data, back);
        }

        // A limit that is not a multiple of 64 KiB stops the server at start, saying why.
        await using var wrong = ServerProcess.Start("up", "--data", Path.Combine(_data.Path, "other"), "--port", "0", "--dom-stripesize", "100K");
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(wrong.WaitForAddressAsync);
        Assert.Contains("cannot start", failed.Message, StringComparison.Ordinal);
        Assert.Contains("dom_stripesize", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_of_separate_mgs_mds_and_oss_processes_works_end_to_end()
    {
        await using var mgs = ServerProcess.Start("serve", "--role", "mgs", "--data", Path.Combine(_data.Path, "mgs"), "--listen", "127.0.0.1:0");
        var address = await mgs.WaitForAddressAsync();
        var mgsEndpoint = address[..address.IndexOf('/', StringComparison.Ordinal)];
        await using var oss0 = ServerProcess.Start("serve", "--role", "oss", "--data", Path.Combine(_data.Path, "oss0"), "--mgs", mgsEndpoint, "--index", "0");
        await using var oss1 = ServerProcess.Start("serve", "--role", "oss", "--data", Path.Combine(_data.Path, "oss1"), "--mgs", mgsEndpoint, "--index", "1");
        await oss0.WaitUntilUpAsync();
        await oss1.WaitUntilUpAsync();
        await using var mds = ServerProcess.Start("serve", "--role", "mds", "--data", Path.Combine(_data.Path, "mds"), "--mgs", mgsEndpoint);
        await mds.WaitUntilUpAsync();

        await using var client = new LustreClient(address);
        await client.CreateDirectoryAsync("/data");
        await WriteFileAsync(client, "/data/striped.bin", 8L << 20);
        var info = await client.GetInfoAsync("/data/striped.bin");
        Assert.Equal(8L << 20, info.Length);
        var objects = info.Layout!.Components[0].Objects;
        Assert.Equal([0, 1], objects.Select(o => o.OstIndex).Order());
        await VerifyFileAsync(client, "/data/striped.bin", 8L << 20);

        // Each OSS process holds one of the file's objects; after unlink the MDS destroys both.
        string ObjectFile(OstObject o) => Path.Combine(_data.Path, $"oss{o.OstIndex}", $"ost{o.OstIndex:X4}", "objects", (o.ObjectId & 0xFF).ToString("x2", System.Globalization.CultureInfo.InvariantCulture), o.ObjectId.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        Assert.All(objects, o => Assert.True(File.Exists(ObjectFile(o)), ObjectFile(o)));
        await client.DeleteFileAsync("/data/striped.bin");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (objects.Any(o => File.Exists(ObjectFile(o))))
        {
            await Task.Delay(100, timeout.Token);
        }

        Assert.False(await client.ExistsAsync("/data/striped.bin"));
        Assert.DoesNotMatch(new Regex("fail|error", RegexOptions.IgnoreCase), mds.Output);
    }

    [Fact]
    public async Task Lustre_up_reads_its_settings_from_a_config_file_and_the_command_line_wins()
    {
        var config = Path.Combine(_data.Path, "lustre.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              // Comments are allowed.
              "data": "{{Path.Combine(_data.Path, "from-config").Replace("\\", "/", StringComparison.Ordinal)}}",
              "port": 0,
              "osts": 2,
              "fsname": "cfgfs",
              "stripeCount": -1,
            }
            """);
        await using var server = ServerProcess.Start("up", "--config", config, "--osts", "3");

        var address = await server.WaitForAddressAsync();

        Assert.EndsWith("/cfgfs", address, StringComparison.Ordinal);
        await using var client = new LustreClient(address);
        await using (var file = await client.OpenFileAsync("/default-layout", FileMode.CreateNew))
        {
            // The config's default stripe count -1 (all OSTs), over the 3 OSTs the command line asked for.
            Assert.Equal(3, file.Layout.Components[0].Objects.Count);
        }

        Assert.Equal(3, Directory.GetDirectories(Path.Combine(_data.Path, "from-config"), "ost*").Length);
    }

    [Fact]
    public async Task Lustre_serve_with_a_missing_option_says_what_is_missing_and_exits_non_zero()
    {
        await using var server = ServerProcess.Start("serve", "--role", "oss", "--data", _data.Path);
        await server.WaitForLineAsync(new Regex("needs --mgs HOST:PORT"), TimeSpan.FromSeconds(60));
        Assert.DoesNotContain("   at ", server.Output, StringComparison.Ordinal);
    }
}
